import type { PrismaClient } from '../generated/prisma/client';
import { createPrismaClient, type CreatePrismaClientOptions } from '../prisma/create-prisma-client';

/** The HNSW scan's candidate list (hnsw.ef_search) at least; pgvector's default is 40. */
export const HNSW_EF_SEARCH = 300;

/**
 * What every search connection's session starts with (ADR 27 §10, §12), so a ranking is one statement: no transaction
 * to open, no settings to send, no commit, each a round trip (together about 0.6 ms a search at the median and 3 ms
 * at the 99th percentile, a third of a hybrid search).
 * - The HNSW scan keeps going until enough chunks pass the tenant and document conditions (pgvector ≥ 0.8) instead of
 *   stopping at ef_search, and its candidate list is HNSW_EF_SEARCH long. Recall@10 over the bench's 100,000 chunks
 *   was 0.94 at pgvector's default 40 and 0.949–0.970 at 200 (each ingest builds its own graph), too close to 0.95;
 *   on harder queries 0.914 at 200 and 0.933 at 300, for 0.7 ms more at the median (which a hybrid search mostly
 *   does not wait for: the keyword ranking runs beside it). A deeper page raises it for its own transaction.
 * - No sequential scan: every table a search reads is read through an index, and the planner prices a scan of chunks
 *   without reading each chunk's out-of-line vector, so a scan and a sort of a tenant's chunks can look cheaper than
 *   the HNSW index when it is not (with ef_search at 200 and ANALYZE run over 10,000 chunks: 67 ms against 6).
 * - No JIT: a search is milliseconds of work, and an estimate far enough off (as without statistics, or with a plan
 *   method disabled) crosses jit_above_cost and compiles for longer than that.
 * - No sort where something else will do: postings are summed per chunk in a hash table as the index yields them,
 *   where an estimate of a row or two per term (no statistics) made the planner sort every posting by chunk first.
 *   A top-k still sorts, having nothing else to do it, and the HNSW scan yields chunks in distance order.
 */
export const SEARCH_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  'hnsw.iterative_scan': 'relaxed_order',
  'hnsw.ef_search': String(HNSW_EF_SEARCH),
  enable_seqscan: 'off',
  jit: 'off',
  enable_sort: 'off',
};

declare const searchSession: unique symbol;

/** A Prisma client whose connections start with SEARCH_SESSION_SETTINGS; only createSearchPrismaClient makes one. */
export type SearchPrismaClient = PrismaClient & { readonly [searchSession]: true };

/**
 * A pool of its own for searches: the settings above would mislead the planner on any other statement (a bulk
 * update with sequential scans off), so they never reach the pool the rest of the process uses. Connections open
 * when a search first needs one, so a process that never searches holds none.
 */
export function createSearchPrismaClient(
  options: Omit<CreatePrismaClientOptions, 'sessionSettings'>,
): SearchPrismaClient {
  return createPrismaClient({ ...options, sessionSettings: SEARCH_SESSION_SETTINGS }) as SearchPrismaClient;
}
