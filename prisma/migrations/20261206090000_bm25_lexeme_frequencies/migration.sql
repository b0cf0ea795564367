-- Document frequencies for BM25 (ADR 27 §11): per tenant, embedding model and lexeme, the number of chunks with that
-- lexeme, which is the count of its postings in chunk_terms. A search reads a term's frequency here instead of counting
-- its postings, so it can bound what a common term adds to a chunk's score before reading any of its postings, and
-- leave the postings of terms too common to matter unread (ChunksRepository.search). The triggers on chunks keep it
-- exact with the postings, in the same statement; a lexeme no chunk has any more loses its row.
CREATE TABLE "keyword_lexemes" (
    "tenant_id" UUID NOT NULL,
    "embedding_model" TEXT NOT NULL,
    "lexeme" TEXT NOT NULL,
    "chunks" INTEGER NOT NULL,

    CONSTRAINT "keyword_lexemes_pkey" PRIMARY KEY ("tenant_id","embedding_model","lexeme")
);

-- Hand-made: the triggers' functions again, now keeping keyword_lexemes too. Every writer takes row locks in one
-- order: postings, then lexeme counters in key order (one upsert, ORDER BY the key), then the tenant's counters in key
-- order; so concurrent writers (inserts, updates, deletes) wait for one another instead of deadlocking.
CREATE OR REPLACE FUNCTION chunk_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_terms (tenant_id, embedding_model, lexeme, chunk_id, tf, dl)
  SELECT n.tenant_id, n.embedding_model, t.lexeme, n.id, coalesce(array_length(t.positions, 1), 1), length(n.tsv)
  FROM added n, unnest(n.tsv) t
  ORDER BY 1, 2, 3, 4;
  INSERT INTO keyword_lexemes AS l (tenant_id, embedding_model, lexeme, chunks)
  SELECT n.tenant_id, n.embedding_model, t.lexeme, count(*) FROM added n, unnest(n.tsv) t
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, embedding_model, lexeme) DO UPDATE SET chunks = l.chunks + excluded.chunks;
  -- In key order, so concurrent writers take the counters' row locks in the same order.
  INSERT INTO keyword_stats AS s (tenant_id, embedding_model, chunks, lexemes)
  SELECT tenant_id, embedding_model, count(*), coalesce(sum(length(tsv)), 0) FROM added GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (tenant_id, embedding_model)
  DO UPDATE SET chunks = s.chunks + excluded.chunks, lexemes = s.lexemes + excluded.lexemes;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION chunk_terms_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The postings go with their chunks (foreign key, cascade); the counters are taken down here. The lexemes' as an
  -- upsert in key order (their rows exist: each removed lexeme was counted when its chunk came), then rows at zero go.
  INSERT INTO keyword_lexemes AS l (tenant_id, embedding_model, lexeme, chunks)
  SELECT r.tenant_id, r.embedding_model, t.lexeme, -count(*) FROM removed r, unnest(r.tsv) t
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, embedding_model, lexeme) DO UPDATE SET chunks = l.chunks + excluded.chunks;
  DELETE FROM keyword_lexemes l
  USING (SELECT DISTINCT r.tenant_id, r.embedding_model, t.lexeme FROM removed r, unnest(r.tsv) t) g
  WHERE l.tenant_id = g.tenant_id AND l.embedding_model = g.embedding_model AND l.lexeme = g.lexeme AND l.chunks <= 0;
  UPDATE keyword_stats s SET chunks = s.chunks - r.chunks, lexemes = s.lexemes - r.lexemes
  FROM (SELECT tenant_id, embedding_model, count(*) AS chunks, coalesce(sum(length(tsv)), 0) AS lexemes
        FROM removed GROUP BY 1, 2) r
  WHERE s.tenant_id = r.tenant_id AND s.embedding_model = r.embedding_model;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION chunk_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chunk_terms WHERE chunk_id IN (SELECT id FROM removed);
  INSERT INTO chunk_terms (tenant_id, embedding_model, lexeme, chunk_id, tf, dl)
  SELECT n.tenant_id, n.embedding_model, t.lexeme, n.id, coalesce(array_length(t.positions, 1), 1), length(n.tsv)
  FROM added n, unnest(n.tsv) t
  ORDER BY 1, 2, 3, 4;
  -- What changed per lexeme, in one upsert in key order (an update that keeps a chunk's words changes nothing).
  INSERT INTO keyword_lexemes AS l (tenant_id, embedding_model, lexeme, chunks)
  SELECT tenant_id, embedding_model, lexeme, sum(d) FROM (
    SELECT n.tenant_id, n.embedding_model, t.lexeme, 1 AS d FROM added n, unnest(n.tsv) t
    UNION ALL
    SELECT r.tenant_id, r.embedding_model, t.lexeme, -1 FROM removed r, unnest(r.tsv) t) x
  GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (tenant_id, embedding_model, lexeme) DO UPDATE SET chunks = l.chunks + excluded.chunks;
  DELETE FROM keyword_lexemes l
  USING (SELECT DISTINCT r.tenant_id, r.embedding_model, t.lexeme FROM removed r, unnest(r.tsv) t) g
  WHERE l.tenant_id = g.tenant_id AND l.embedding_model = g.embedding_model AND l.lexeme = g.lexeme AND l.chunks <= 0;
  UPDATE keyword_stats s SET chunks = s.chunks - r.chunks, lexemes = s.lexemes - r.lexemes
  FROM (SELECT tenant_id, embedding_model, count(*) AS chunks, coalesce(sum(length(tsv)), 0) AS lexemes
        FROM removed GROUP BY 1, 2) r
  WHERE s.tenant_id = r.tenant_id AND s.embedding_model = r.embedding_model;
  INSERT INTO keyword_stats AS s (tenant_id, embedding_model, chunks, lexemes)
  SELECT tenant_id, embedding_model, count(*), coalesce(sum(length(tsv)), 0) FROM added GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (tenant_id, embedding_model)
  DO UPDATE SET chunks = s.chunks + excluded.chunks, lexemes = s.lexemes + excluded.lexemes;
  RETURN NULL;
END $$;

-- The lexemes indexed before this migration.
INSERT INTO keyword_lexemes (tenant_id, embedding_model, lexeme, chunks)
SELECT tenant_id, embedding_model, lexeme, count(*) FROM chunk_terms GROUP BY 1, 2, 3;
