-- The lane a job's commands travel in (ADR 10): 'interactive' or 'bulk'.
ALTER TABLE "jobs" ADD COLUMN "lane" TEXT NOT NULL DEFAULT 'interactive';
