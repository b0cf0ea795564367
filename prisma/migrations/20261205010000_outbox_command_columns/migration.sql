-- Issue 9: the command a row carries and its generation (a redrive's count) are columns, so the stuck-job sweeper
-- and the redrive find a document's current command without parsing message ids in SQL.
ALTER TABLE "outbox" ADD COLUMN "command" TEXT,
ADD COLUMN "generation" INTEGER;

-- Rows written before: a command's message id is '<job>:<command>:<document>:<generation>'.
UPDATE "outbox" SET "command" = split_part("msg_id", ':', 2), "generation" = split_part("msg_id", ':', 4)::int
WHERE "document_id" IS NOT NULL AND split_part("msg_id", ':', 2) IN ('ingestDocument', 'indexDocument')
  AND split_part("msg_id", ':', 4) ~ '^[0-9]+$';
