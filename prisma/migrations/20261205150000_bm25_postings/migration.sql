-- BM25 for keyword search (ADR 27 §9): ts_rank_cd has no inverse document frequency, so a common word weighed as much
-- as a rare one (SciFact nDCG@10 0.35 against BM25's 0.665). The keyword index keeps postings — one row per chunk
-- and lexeme, with the lexeme's frequency in the chunk and the chunk's length — and per tenant and embedding model
-- the number of chunks and their total length. Triggers on chunks keep both exact as chunks are inserted, updated
-- and deleted, so no writer has to remember them.
CREATE TABLE "chunk_terms" (
    "tenant_id" UUID NOT NULL,
    "embedding_model" TEXT NOT NULL,
    "lexeme" TEXT NOT NULL,
    "chunk_id" UUID NOT NULL,
    "tf" INTEGER NOT NULL,
    "dl" INTEGER NOT NULL,

    CONSTRAINT "chunk_terms_pkey" PRIMARY KEY ("tenant_id","embedding_model","lexeme","chunk_id")
);
CREATE INDEX "chunk_terms_chunk_id_idx" ON "chunk_terms"("chunk_id");
ALTER TABLE "chunk_terms" ADD CONSTRAINT "chunk_terms_chunk_id_fkey" FOREIGN KEY ("chunk_id") REFERENCES "chunks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "keyword_stats" (
    "tenant_id" UUID NOT NULL,
    "embedding_model" TEXT NOT NULL,
    "chunks" BIGINT NOT NULL DEFAULT '0'::bigint,
    "lexemes" BIGINT NOT NULL DEFAULT '0'::bigint,

    CONSTRAINT "keyword_stats_pkey" PRIMARY KEY ("tenant_id","embedding_model")
);

-- Hand-made: the triggers (listed in hand-made-extras.ts).
CREATE FUNCTION chunk_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_terms (tenant_id, embedding_model, lexeme, chunk_id, tf, dl)
  SELECT n.tenant_id, n.embedding_model, t.lexeme, n.id, coalesce(array_length(t.positions, 1), 1), length(n.tsv)
  FROM added n, unnest(n.tsv) t
  ORDER BY 1, 2, 3, 4;
  -- In key order, so concurrent writers take the counters' row locks in the same order.
  INSERT INTO keyword_stats AS s (tenant_id, embedding_model, chunks, lexemes)
  SELECT tenant_id, embedding_model, count(*), coalesce(sum(length(tsv)), 0) FROM added GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (tenant_id, embedding_model)
  DO UPDATE SET chunks = s.chunks + excluded.chunks, lexemes = s.lexemes + excluded.lexemes;
  RETURN NULL;
END $$;

CREATE FUNCTION chunk_terms_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The postings go with their chunks (foreign key, cascade); the counters are taken down here.
  UPDATE keyword_stats s SET chunks = s.chunks - r.chunks, lexemes = s.lexemes - r.lexemes
  FROM (SELECT tenant_id, embedding_model, count(*) AS chunks, coalesce(sum(length(tsv)), 0) AS lexemes
        FROM removed GROUP BY 1, 2) r
  WHERE s.tenant_id = r.tenant_id AND s.embedding_model = r.embedding_model;
  RETURN NULL;
END $$;

CREATE FUNCTION chunk_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chunk_terms WHERE chunk_id IN (SELECT id FROM removed);
  UPDATE keyword_stats s SET chunks = s.chunks - r.chunks, lexemes = s.lexemes - r.lexemes
  FROM (SELECT tenant_id, embedding_model, count(*) AS chunks, coalesce(sum(length(tsv)), 0) AS lexemes
        FROM removed GROUP BY 1, 2) r
  WHERE s.tenant_id = r.tenant_id AND s.embedding_model = r.embedding_model;
  INSERT INTO chunk_terms (tenant_id, embedding_model, lexeme, chunk_id, tf, dl)
  SELECT n.tenant_id, n.embedding_model, t.lexeme, n.id, coalesce(array_length(t.positions, 1), 1), length(n.tsv)
  FROM added n, unnest(n.tsv) t
  ORDER BY 1, 2, 3, 4;
  INSERT INTO keyword_stats AS s (tenant_id, embedding_model, chunks, lexemes)
  SELECT tenant_id, embedding_model, count(*), coalesce(sum(length(tsv)), 0) FROM added GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (tenant_id, embedding_model)
  DO UPDATE SET chunks = s.chunks + excluded.chunks, lexemes = s.lexemes + excluded.lexemes;
  RETURN NULL;
END $$;

CREATE TRIGGER chunks_keyword_added AFTER INSERT ON chunks
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_added();
CREATE TRIGGER chunks_keyword_removed AFTER DELETE ON chunks
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_removed();
CREATE TRIGGER chunks_keyword_changed AFTER UPDATE ON chunks
  REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION chunk_terms_changed();

-- The chunks indexed before this migration.
INSERT INTO chunk_terms (tenant_id, embedding_model, lexeme, chunk_id, tf, dl)
SELECT c.tenant_id, c.embedding_model, t.lexeme, c.id, coalesce(array_length(t.positions, 1), 1), length(c.tsv)
FROM chunks c, unnest(c.tsv) t;
INSERT INTO keyword_stats (tenant_id, embedding_model, chunks, lexemes)
SELECT tenant_id, embedding_model, count(*), coalesce(sum(length(tsv)), 0) FROM chunks GROUP BY 1, 2;
