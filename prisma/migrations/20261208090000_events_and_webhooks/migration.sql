-- Every state change of a job and of a document becomes an event (ADR 30), and tenants' webhooks receive them.

-- CreateTable
CREATE TABLE "events" (
    "id" BIGSERIAL NOT NULL,
    "event_id" UUID NOT NULL DEFAULT quarry_uuid_v7(),
    "tenant_id" UUID NOT NULL,
    "scope_id" UUID NOT NULL,
    "job_id" UUID,
    "document_id" UUID,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "traceparent" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(6),
    "stream_seq" BIGINT,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhooks" (
    "id" UUID NOT NULL DEFAULT quarry_uuid_v7(),
    "tenant_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "events" TEXT[] NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "secret" TEXT NOT NULL,
    "previous_secret" TEXT,
    "previous_secret_until" TIMESTAMPTZ(6),
    "failing_since" TIMESTAMPTZ(6),
    "disabled_reason" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL DEFAULT quarry_uuid_v7(),
    "tenant_id" UUID NOT NULL,
    "webhook_id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "event_type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(6),
    "locked_until" TIMESTAMPTZ(6),
    "last_response_status" INTEGER,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_attempts" (
    "id" BIGSERIAL NOT NULL,
    "delivery_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "attempted_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "latency_ms" INTEGER NOT NULL,
    "response_status" INTEGER,
    "response_body" TEXT,
    "error" TEXT,
    "ok" BOOLEAN NOT NULL,

    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "events_event_id_key" ON "events"("event_id");

-- CreateIndex
CREATE INDEX "events_id_idx" ON "events"("id") WHERE (published_at IS NULL);

-- CreateIndex
CREATE INDEX "events_created_at_idx" ON "events"("created_at");

-- CreateIndex
CREATE INDEX "webhooks_tenant_id_created_at_idx" ON "webhooks"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_webhook_id_event_id_key" ON "webhook_deliveries"("webhook_id", "event_id");

-- CreateIndex
CREATE INDEX "webhook_deliveries_next_attempt_at_idx" ON "webhook_deliveries"("next_attempt_at") WHERE (status = 'pending');

-- CreateIndex
CREATE INDEX "webhook_deliveries_webhook_id_created_at_idx" ON "webhook_deliveries"("webhook_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "webhook_attempts_delivery_id_id_idx" ON "webhook_attempts"("delivery_id", "id");

-- AddForeignKey
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-made: the events are written by statement-level triggers on jobs and documents, in the same statement as the
-- change they describe, so no code path can change a status without its event, and an event never describes a
-- change that rolled back. Statement-level with transition tables: the batched transitions of ADR 20 write one
-- INSERT … SELECT per statement, not one per row. A job's progress is an event only while it runs; a change of
-- status carries the progress with it. The relay is woken by NOTIFY (sent once per transaction: PostgreSQL folds
-- identical notifications) and publishes them in id order (EventRelay).
CREATE FUNCTION quarry_job_event_data(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'type', j.type, 'lane', j.lane, 'status', j.status, 'progress', j.progress, 'error', j.error,
    'attempts', j.attempts, 'createdAt', j.created_at, 'startedAt', j.started_at, 'finishedAt', j.finished_at)
$$;

CREATE FUNCTION quarry_document_event_data(d documents) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', d.id, 'jobId', d.job_id, 'filename', d.filename, 'status', d.status, 'detectedType', d.detected_type,
    'source', d.source, 'sourceUrl', d.source_url, 'parentDocumentId', d.parent_document_id,
    'pageCount', d.page_count, 'chunkCount', d.chunk_count, 'error', d.error)
$$;

CREATE FUNCTION quarry_job_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  added int;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (tenant_id, scope_id, job_id, type, data, traceparent)
    SELECT n.tenant_id, n.id, n.id, 'job.' || n.status::text, quarry_job_event_data(n::jobs), n.traceparent
    FROM new_rows n ORDER BY n.id;
  ELSE
    INSERT INTO events (tenant_id, scope_id, job_id, type, data, traceparent)
    SELECT n.tenant_id, n.id, n.id,
           CASE WHEN n.status <> o.status THEN 'job.' || n.status::text ELSE 'job.progress' END,
           quarry_job_event_data(n::jobs), n.traceparent
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status <> o.status OR (n.status = 'running' AND n.progress IS DISTINCT FROM o.progress)
    ORDER BY n.id;
  END IF;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added > 0 THEN
    PERFORM pg_notify('quarry_events', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION quarry_document_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  added int;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (tenant_id, scope_id, job_id, document_id, type, data)
    SELECT n.tenant_id, n.job_id, n.job_id, n.id, 'document.' || n.status::text, quarry_document_event_data(n::documents)
    FROM new_rows n ORDER BY n.id;
  ELSE
    INSERT INTO events (tenant_id, scope_id, job_id, document_id, type, data)
    SELECT n.tenant_id, n.job_id, n.job_id, n.id, 'document.' || n.status::text, quarry_document_event_data(n::documents)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status <> o.status
    ORDER BY n.id;
  END IF;
  GET DIAGNOSTICS added = ROW_COUNT;
  IF added > 0 THEN
    PERFORM pg_notify('quarry_events', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_events_inserted AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quarry_job_events();
CREATE TRIGGER jobs_events_updated AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quarry_job_events();
CREATE TRIGGER documents_events_inserted AFTER INSERT ON documents
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quarry_document_events();
CREATE TRIGGER documents_events_updated AFTER UPDATE ON documents
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION quarry_document_events();
