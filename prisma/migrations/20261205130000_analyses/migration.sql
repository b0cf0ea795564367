-- Analyses (ADR 28): an analysis job keeps its request and its result on its own row, and the finished items of a
-- long analysis (a report's scored documents) in analysis_items, so a redelivered job resumes where it stopped.
ALTER TABLE "jobs" ADD COLUMN "input" JSONB;
ALTER TABLE "jobs" ADD COLUMN "result" JSONB;

CREATE TABLE "analysis_items" (
    "job_id" UUID NOT NULL,
    "item" TEXT NOT NULL,
    "output" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "analysis_items_pkey" PRIMARY KEY ("job_id","item")
);

ALTER TABLE "analysis_items" ADD CONSTRAINT "analysis_items_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
