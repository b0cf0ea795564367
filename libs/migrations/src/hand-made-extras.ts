import type { SchemaExtras } from './schema-snapshot';

/**
 * What prisma/migrations creates on purpose although schema.prisma cannot say it. The drift check lets
 * these exist without a schema counterpart and fails when one of them is missing, so this list and the
 * hand-made SQL in the migrations must change together.
 */
export const HAND_MADE_SCHEMA_EXTRAS: SchemaExtras = {
  // pgvector, for chunks.embedding (Unsupported("vector") in the schema).
  extensions: ['vector'],
  // One partial HNSW expression index per embedding dimension: the column is an untyped vector.
  // and GIN indexes for full text, tags and metadata (operator classes the schema cannot name).
  indexes: [
    'chunks_embedding_512_hnsw_idx',
    'chunks_tsv_gin_idx',
    'documents_tags_gin_idx',
    'documents_metadata_gin_idx',
  ],
  // The chunk's text-search configuration and the tsvector generated from it (hybrid search, ADR 27).
  columns: ['chunks.text_config', 'chunks.tsv'],
  // job_events is append-only; chunks keep the keyword index's postings and counters, and take ids in time order
  // (ADR 27).
  functions: [
    'job_events_reject_update',
    'chunk_terms_added',
    'chunk_terms_removed',
    'chunk_terms_changed',
    'quarry_uuid_v7',
    // Events are written by statement triggers on jobs and documents (ADR 30).
    'quarry_job_event_data',
    'quarry_document_event_data',
    'quarry_job_events',
    'quarry_document_events',
  ],
  triggers: [
    'job_events.job_events_append_only',
    'chunks.chunks_keyword_added',
    'chunks.chunks_keyword_removed',
    'chunks.chunks_keyword_changed',
    'jobs.jobs_events_inserted',
    'jobs.jobs_events_updated',
    'documents.documents_events_inserted',
    'documents.documents_events_updated',
  ],
};
