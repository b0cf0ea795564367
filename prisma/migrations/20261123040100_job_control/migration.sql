-- Job control (issue 3): cancellation, the stuck-job sweeper and retention.

-- How often the sweeper re-published a job's lost commands; past MAX_REDRIVES its lost documents fail
-- with `stalled`, so no job stays non-terminal forever.
ALTER TABLE "jobs" ADD COLUMN "redrives" INTEGER NOT NULL DEFAULT 0;

-- The command a row carries is about this document (null for job events). With the stream sequence the
-- publish was stored at, the sweeper can ask JetStream whether a document's current command is still
-- queued (waiting or being worked on) or gone without the document moving on (lost).
ALTER TABLE "outbox" ADD COLUMN "document_id" UUID,
ADD COLUMN "published_seq" BIGINT;

-- CreateIndex: the queue position of a queued job (count of queued jobs created before it) and the
-- sweeper's scan of active jobs.
CREATE INDEX "jobs_status_created_at_idx" ON "jobs"("status", "created_at");

-- CreateIndex: retention finds terminal jobs by when they finished.
CREATE INDEX "jobs_finished_at_idx" ON "jobs"("finished_at");

-- CreateIndex: a document's latest command row.
CREATE INDEX "outbox_document_id_idx" ON "outbox"("document_id");
