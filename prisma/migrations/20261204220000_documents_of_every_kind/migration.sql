-- Issue 8: every format, OCR, URLs, crawler deliveries and e-mail attachments.

-- How each page's text was obtained, its OCR confidence, its unit's name and its heading paths.
ALTER TABLE "pages" ADD COLUMN "method" TEXT NOT NULL DEFAULT 'parsed',
ADD COLUMN "ocr_confidence" REAL,
ADD COLUMN "label" TEXT,
ADD COLUMN "sections" JSONB NOT NULL DEFAULT '[]';

-- Pages stored before this migration came from a PDF's text layer or from plain text.
UPDATE "pages" p SET "method" = 'text_layer' FROM "documents" d WHERE d."id" = p."document_id" AND d."detected_type" = 'pdf';

-- A URL document has no bytes until the ingest worker fetches them.
ALTER TABLE "documents" ALTER COLUMN "sha256" DROP NOT NULL,
ALTER COLUMN "size_bytes" DROP NOT NULL,
ADD COLUMN "source" TEXT NOT NULL DEFAULT 'upload',
ADD COLUMN "source_url" TEXT,
ADD COLUMN "final_url" TEXT,
ADD COLUMN "http_status" INTEGER,
ADD COLUMN "metadata" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN "title" TEXT,
ADD COLUMN "parent_document_id" UUID,
ADD COLUMN "depth" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "low_confidence_pages" INTEGER[] NOT NULL DEFAULT ARRAY[]::INTEGER[],
ADD COLUMN "extraction_key" TEXT;

ALTER TABLE "documents" ADD CONSTRAINT "documents_parent_document_id_fkey" FOREIGN KEY ("parent_document_id") REFERENCES "documents"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "documents_parent_document_id_idx" ON "documents"("parent_document_id");

-- A crawl's job stays open for pages until the crawler says the crawl ended.
ALTER TABLE "jobs" ADD COLUMN "accepting_documents" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "crawl_ref" TEXT;
CREATE UNIQUE INDEX "jobs_tenant_id_crawl_ref_key" ON "jobs"("tenant_id", "crawl_ref");

-- Deliveries already taken, so a sender's retry is a no-op.
CREATE TABLE "webhook_receipts" (
    "tenant_id" UUID NOT NULL,
    "source" TEXT NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "job_id" UUID,
    "received_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_receipts_pkey" PRIMARY KEY ("tenant_id","source","delivery_id")
);
CREATE INDEX "webhook_receipts_received_at_idx" ON "webhook_receipts"("received_at");
ALTER TABLE "webhook_receipts" ADD CONSTRAINT "webhook_receipts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "webhook_receipts" ADD CONSTRAINT "webhook_receipts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE SET NULL ON UPDATE CASCADE;
