-- Dead letters recorded from the DLQ stream by the gateway, so operators can list and replay them
-- (issue 3). A retried or replayed job points at the job it retries.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "retry_of_job_id" UUID;

-- CreateTable
CREATE TABLE "dead_letters" (
    "id" UUID NOT NULL,
    "tenant_id" UUID,
    "job_id" UUID,
    "document_id" UUID,
    "command" TEXT NOT NULL,
    "origin_subject" TEXT NOT NULL,
    "origin_msg_id" TEXT NOT NULL,
    "dlq_stream_seq" BIGINT NOT NULL,
    "code" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "delivery_count" INTEGER NOT NULL,
    "traceparent" TEXT,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "replayed_at" TIMESTAMPTZ(6),
    "replay_count" INTEGER NOT NULL DEFAULT 0,
    "last_replay_job_id" UUID,

    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "jobs_retry_of_job_id_idx" ON "jobs"("retry_of_job_id");

-- CreateIndex
CREATE UNIQUE INDEX "dead_letters_dlq_stream_seq_key" ON "dead_letters"("dlq_stream_seq");

-- CreateIndex
CREATE INDEX "dead_letters_tenant_id_created_at_id_idx" ON "dead_letters"("tenant_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "dead_letters_tenant_id_job_id_created_at_id_idx" ON "dead_letters"("tenant_id", "job_id", "created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_retry_of_job_id_fkey" FOREIGN KEY ("retry_of_job_id") REFERENCES "jobs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE SET NULL ON UPDATE CASCADE;
