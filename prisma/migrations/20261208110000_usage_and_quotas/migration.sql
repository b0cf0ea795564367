-- Usage metering and quotas (ADR 32). A usage record is inserted by the statement (or transaction) that did the work,
-- keyed by tenant, job, subject and metric, so a redelivered step finds its key taken and counts nothing twice; the
-- same statement adds what it inserted to the tenant's day in usage_daily, which quotas and GET /v1/usage read.
-- Work done before this migration has no records: usage starts here.

-- AlterTable
ALTER TABLE "tenants" ADD COLUMN "quota_pages_per_month" BIGINT;
ALTER TABLE "tenants" ADD COLUMN "quota_embedding_tokens_per_month" BIGINT;

-- CreateTable
CREATE TABLE "usage_records" (
    "tenant_id" UUID NOT NULL,
    "job_id" UUID NOT NULL,
    "subject_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "quantity" BIGINT NOT NULL,
    "occurred_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_records_pkey" PRIMARY KEY ("tenant_id","job_id","subject_id","metric")
);

-- CreateTable
CREATE TABLE "usage_daily" (
    "tenant_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "quantity" BIGINT NOT NULL,

    CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("tenant_id","metric","day")
);

-- CreateIndex
CREATE INDEX "usage_records_tenant_id_occurred_at_idx" ON "usage_records"("tenant_id", "occurred_at");
