-- Step deadlines (ADR 33): when a document's current step (extracting, indexing) began. A claim that moves the
-- document into a step sets it; a redelivery's claim of the same step keeps it, so a step's deadline counts from its
-- first claim however often its message comes back. Nullable without a default: adding it rewrites nothing.

-- AlterTable
ALTER TABLE "documents" ADD COLUMN "step_started_at" TIMESTAMPTZ(6);

-- Documents in a step when this runs: their last claim is the best start there is.
UPDATE "documents" SET "step_started_at" = "updated_at" WHERE "status" IN ('extracting', 'indexing');
