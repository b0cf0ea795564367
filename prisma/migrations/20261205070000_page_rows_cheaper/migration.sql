-- Storing a document's pages (and its chunks) is the ingest and index steps' largest statement; two costs in it
-- bought nothing.
--
-- 1. The foreign keys from pages and chunks to tenants. tenant_id is the document's own, copied for filtering; the
--    document's foreign key already ties each row to a tenant. The tenant key made every inserted row check and
--    lock (KEY SHARE) the tenant's row, so concurrent completions of one tenant met on that row as multixacts;
--    measured on 200-page inserts it was a fifth of the statement.
ALTER TABLE "pages" DROP CONSTRAINT IF EXISTS "pages_tenant_id_fkey";
ALTER TABLE "chunks" DROP CONSTRAINT IF EXISTS "chunks_tenant_id_fkey";

-- 2. pglz, PostgreSQL's default compression of long values: a page's text (2–4 KB) is compressed on insert, and
--    lz4 does it in a fraction of the CPU for about the same size (another fifth of a 200-page insert). Only new
--    values use it; nothing is rewritten. A server built without lz4 keeps pglz.
DO $$
BEGIN
  ALTER TABLE "pages" ALTER COLUMN "text" SET COMPRESSION lz4;
  ALTER TABLE "chunks" ALTER COLUMN "text" SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'lz4 is not available on this server: page and chunk text stay compressed with pglz';
END $$;
