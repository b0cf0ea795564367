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
  indexes: ['chunks_embedding_512_hnsw_idx'],
  // job_events is append-only.
  functions: ['job_events_reject_update'],
  triggers: ['job_events.job_events_append_only'],
};
