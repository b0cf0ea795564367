-- Chunk ids in the order chunks are written (ADR 27 §12). A term's postings are read in chunk_terms' key order
-- (tenant, model, lexeme, chunk_id), and each statement that writes chunks writes their postings together, sorted by
-- that key. With random ids that order visited a different heap page for nearly every posting (8,160 buffers for
-- 8,158 postings); with ids that grow with time, one statement's postings of a term lie side by side and come in the
-- order they are stored, so a search reads pages it already holds (a tenth less time to read a term's postings).
-- Existing chunks keep their ids.
--
-- Hand-made: a version 7 UUID (RFC 9562), PostgreSQL 15 having no uuidv7(): 48 bits of Unix milliseconds, then the
-- random bits of a version 4 UUID with the version set to 7 (bits 52 and 53 of the bytes turn 0100 into 0111; the
-- variant stays 10). Not monotonic within one millisecond, which the postings do not need: within a statement they
-- are sorted by id anyway.
CREATE FUNCTION quarry_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
           set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                   PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                                     FROM 3)
                                   FROM 1 FOR 6),
                           52, 1),
                   53, 1),
           'hex')::uuid
$$;

ALTER TABLE "chunks" ALTER COLUMN "id" SET DEFAULT quarry_uuid_v7();
