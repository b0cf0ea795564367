-- Hybrid retrieval (ADR 27): PostgreSQL full text next to pgvector, and the document fields search filters on.

-- Tags a client gives a document (upload, URL ingest, PATCH); filtered with @> (every tag asked for).
ALTER TABLE "documents" ADD COLUMN "tags" TEXT[] NOT NULL DEFAULT '{}';
-- The language detected in the document's text (ISO 639-3), null when too little text to tell.
ALTER TABLE "documents" ADD COLUMN "language" TEXT;

-- Hand-made: GIN indexes Prisma's schema cannot name the operator class of (listed in hand-made-extras.ts).
CREATE INDEX "documents_tags_gin_idx" ON "documents" USING gin ("tags");
CREATE INDEX "documents_metadata_gin_idx" ON "documents" USING gin ("metadata" jsonb_path_ops);

-- Hand-made: each chunk's text-search configuration (the document's language where PostgreSQL has a stemmer for
-- it, else 'simple') and the tsvector generated from it. to_tsvector(regconfig, text) is immutable, so the
-- vector can be a stored generated column that no writer has to remember; existing chunks get 'simple'.
ALTER TABLE "chunks" ADD COLUMN "text_config" regconfig NOT NULL DEFAULT 'simple';
ALTER TABLE "chunks" ADD COLUMN "tsv" tsvector GENERATED ALWAYS AS (to_tsvector("text_config", "text")) STORED;
CREATE INDEX "chunks_tsv_gin_idx" ON "chunks" USING gin ("tsv");
