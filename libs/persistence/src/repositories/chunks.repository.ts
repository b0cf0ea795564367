import {
  TEXT_SEARCH_CONFIGS,
  type MetadataCondition,
  type SearchFilter,
  type SearchMode,
} from '@quarry/contracts';
import { Prisma } from '../generated/prisma/client';
import { toVectorLiteral } from './document-steps';
import { HNSW_EF_SEARCH, type SearchPrismaClient } from './search-client';
import { byScoreThenId, fuseRankings, type FusedChunk, type RankedChunk } from './search-fusion';
import type { SearchHitRow } from './types';

const sql = Prisma.sql;

/** BM25's term-frequency saturation and length normalisation (Robertson's defaults, as Elasticsearch uses). */
const BM25_K1 = 1.2;
const BM25_B = 0.75;
// Constants of the statement, spliced as literals (numbers of this file, not input), typed float8: a bare 0.75 is
// numeric, and numeric arithmetic on every posting took 20–30 ms of the 110 a query of three common words took.
const BM25_TF_NUMERATOR = Prisma.raw(`${BM25_K1 + 1}::float8`);
/**
 * A posting's share of a chunk's score, the posting (tf, dl) under `x`, the term under `t` with its weight
 * = idf × (k1 + 1), `st` the counters with dl_weight = k1·b / avgdl: idf·tf(k1 + 1) / (tf + k1(1 − b) + k1·b·dl/avgdl),
 * arranged so that each posting costs five operations (and three casts) rather than eight (7 % of a keyword search
 * that reads 200,000 postings).
 */
const share = sql`t.weight * x.tf
                  / (x.tf + ${Prisma.raw(`${BM25_K1 * (1 - BM25_B)}::float8`)} + st.dl_weight * x.dl)`;
/**
 * The most one term can add to a chunk's score: idf × (k1 + 1), since tf(k1 + 1) / (tf + k1(1 − b + b·dl/avgdl)) stays
 * below k1 + 1 for any tf and dl (by at least a part in 3,000 for the tf a chunk can have, far above rounding).
 */
const BM25_TERM_BOUND = BM25_TF_NUMERATOR;
/**
 * What looking one chunk up in a term's postings costs (a descent of the postings' primary key and the posting), in
 * postings read and summed: about 3 µs against 0.7 µs over 100,000 chunks. Terms are left unread only when looking
 * the candidates up in them is expected to cost less than reading them.
 */
const LOOKUP_COST_IN_POSTINGS = 4;
/** Candidates each ranking contributes beyond the page asked for, so fusion has both lists to work with. */
const EXTRA_CANDIDATES = 50;
const MAX_CANDIDATES = 1200;

export interface ChunkSearch {
  tenantId: string;
  mode: SearchMode;
  /** The query as the user typed it: web-search syntax ("quoted phrases", -excluded, or). */
  query: string;
  /** The query's embedding, for the vector and hybrid modes. */
  vector?: Float32Array;
  /** Only chunks embedded by this model are searched, in every mode: one search never mixes models. */
  model: { id: string; dim: number };
  filter?: SearchFilter;
  topK: number;
  offset: number;
  /**
   * Rank keyword candidates by reading every posting of every term even where the pruned ranking would give the same
   * result from fewer (ADR 27 §11). For tests that compare the two; searches leave it unset.
   */
  exhaustive?: boolean;
  /**
   * Postings (over the query's terms) from which a plain query's keyword ranking runs in two halves by chunk id
   * (ADR 27 §13); SPLIT_FROM_POSTINGS unless set. For tests that compare the halves with the whole.
   */
  splitFromPostings?: number;
}

/**
 * Postings from which a plain query's keyword ranking runs in two halves: below it the extra round trip that finds
 * the split and a second statement cost more than half the reading saves (a query of 2,000 postings reads them in
 * about 1.5 ms).
 */
const SPLIT_FROM_POSTINGS = 4000;

/**
 * The version 7 UUID halfway in time between two (their first 48 bits, Unix milliseconds), the rest zero: every id
 * written in an earlier millisecond sorts before it. Ids of other versions give a point somewhere between them.
 */
export function midpointInTime(lo: string, hi: string): string {
  const ms = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  const mid = Math.floor((ms(lo) + ms(hi)) / 2)
    .toString(16)
    .padStart(12, '0');
  return `${mid.slice(0, 8)}-${mid.slice(8, 12)}-0000-0000-000000000000`;
}

/** A glob (`*`, `?`) as a LIKE pattern, LIKE's own wildcards escaped. */
export function globToLike(glob: string): string {
  return glob
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

/**
 * Whether a query uses web-search operators (quotes, `OR`, a leading `-`). Such a query is taken literally (every
 * term required, as websearch_to_tsquery parses it); a plain one — a question, a few words — matches chunks with
 * any of its terms, ranked by how many and how close, since requiring every word of a question finds nothing.
 * Only an upper-case `OR` is the operator, as in the search syntax people know: a lower-case "or" is a word of a
 * sentence ("with varenicline or bupropion"), and taking such a question literally found nothing (6 of SciFact's
 * 300 claims).
 */
export function usesSearchOperators(query: string): boolean {
  return /"|(^|\s)-\S|\sOR\s/.test(query);
}

/**
 * UTF-16 spans between the markers ts_headline put around matches, and the text without them. The text is cut at the
 * markers, not rebuilt a character at a time: that had been a third of a megabyte of garbage per search.
 */
export function spansFromMarked(
  marked: string,
  start: string,
  stop: string,
): { text: string; spans: { start: number; end: number }[] } {
  const spans: { start: number; end: number }[] = [];
  const pieces: string[] = [];
  let length = 0;
  let open = -1;
  let from = 0;
  while (from <= marked.length) {
    const nextStart = marked.indexOf(start, from);
    const nextStop = marked.indexOf(stop, from);
    const at = nextStart < 0 ? nextStop : nextStop < 0 ? nextStart : Math.min(nextStart, nextStop);
    const piece = marked.slice(from, at < 0 ? marked.length : at);
    pieces.push(piece);
    length += piece.length;
    if (at < 0) break;
    if (at === nextStart) open = length;
    else {
      if (open >= 0 && length > open) spans.push({ start: open, end: length });
      open = -1;
    }
    from = at + 1;
  }
  const text = pieces.join('');
  // Adjacent matched words ("exact identifier") read better as one span.
  const merged: { start: number; end: number }[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && /^\s*$/.test(text.slice(last.end, span.start))) last.end = span.end;
    else merged.push({ ...span });
  }
  return { text, spans: merged };
}

const MARK_START = '\u0001';
const MARK_STOP = '\u0002';

export class ChunksRepository {
  constructor(private readonly prisma: SearchPrismaClient) {}

  /**
   * Top chunks of one tenant and one embedding model for a query: keyword (PostgreSQL full text), vector (cosine
   * over the HNSW index) or hybrid (both, their normalised scores combined). Filters are conditions of each ranking's
   * statement, so a page of results is the best of what the filter allows, never a filtered top-k.
   */
  async search(s: ChunkSearch): Promise<{ hits: SearchHitRow[]; more: boolean }> {
    if (!Number.isInteger(s.model.dim) || s.model.dim <= 0 || s.model.dim > 16000)
      throw new Error(`bad dimension ${s.model.dim}`);
    if (s.mode !== 'keyword' && !s.vector) throw new Error(`${s.mode} search needs the query's vector`);
    const want = s.offset + s.topK + 1;
    const candidates = Math.min(MAX_CANDIDATES, s.offset + s.topK + EXTRA_CANDIDATES);
    const vt = Prisma.raw(`vector(${s.model.dim})`);
    const docFilter = documentConditions(s.filter);
    const docExists = docFilter
      ? sql`EXISTS (SELECT 1 FROM documents d WHERE d.id = c.document_id AND ${docFilter})`
      : undefined;
    const base = sql`c.tenant_id = ${s.tenantId}::uuid AND c.embedding_model = ${s.model.id}
                     AND c.embedding_dim = ${s.model.dim} ${docExists ? sql`AND ${docExists}` : sql``}`;
    const tsq = keywordQuery(s.query);
    const q = s.vector ? toVectorLiteral(s.vector) : null;
    // BM25 over the postings (ADR 27 §9): a plain query without a document filter lets the postings alone pick the
    // best few hundred before any chunk row is read; otherwise every scored chunk may be checked against the filter
    // and the query's operators, so filtering never happens after a top-k. Either way chunks are checked best first
    // and the checks stop once enough have passed (a filter on a tenth of the documents used to check every chunk
    // with any of the query's terms: 37,000 of them, 0.3 s, for a query of three common words).
    const preselect = !usesSearchOperators(s.query) && !docFilter ? candidates * 3 : null;
    // Every plan below is written so it does not depend on what the statistics say (ADR 27 §10): right after a bulk
    // ingest they call every table empty (reltuples −1, no column statistics until ANALYZE, and autovacuum lags), and
    // plans built on that walked every posting once per posting (10 s for 24 documents) or every chunk of the tenant
    // (1 s for 100,000) instead of the HNSW index. Lookups go through an index from a lateral subquery the planner
    // cannot flatten (an aggregate, or OFFSET 0), CTEs are materialized, and postings are summed per chunk in a hash
    // table (no sorts: see SEARCH_SESSION_SETTINGS).
    // The query's lexemes that have postings, rarest first (i), with their document frequencies (keyword_lexemes,
    // kept with the postings by the same triggers, so no posting is read to count them) and idf; for the pruned
    // ranking also the most each term and every commoner one can add to a score (rest: idf × (k1 + 1) each), their
    // postings (rest_df), the rarer terms' postings (before) and how many terms there are (m). In the terms' order,
    // which is the order every ranking below adds a chunk's shares in, so they all get the same sums.
    const terms = sql`
      stats AS MATERIALIZED (
        SELECT greatest(chunks, 1)::float8 AS n,
               ${Prisma.raw(`${BM25_K1 * BM25_B}::float8`)} / greatest(lexemes::float8 / greatest(chunks, 1), 1) AS dl_weight
        FROM keyword_stats WHERE tenant_id = ${s.tenantId}::uuid AND embedding_model = ${s.model.id}),
      terms AS MATERIALIZED (
        SELECT r.*, r.idf * ${BM25_TF_NUMERATOR} AS weight, count(*) OVER () AS m,
               sum(r.idf * ${BM25_TERM_BOUND}) OVER (ORDER BY r.i DESC) AS rest,
               sum(r.df) OVER (ORDER BY r.i DESC) AS rest_df,
               coalesce(sum(r.df) OVER (ORDER BY r.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
        FROM (
          SELECT row_number() OVER (ORDER BY f.df, t.lexeme) AS i, t.lexeme, f.df,
                 ln(1 + (st.n - f.df + 0.5) / (f.df + 0.5)) AS idf
          FROM (SELECT DISTINCT t.lexeme FROM unnest(${[...TEXT_SEARCH_CONFIGS]}::regconfig[]) AS cfg,
                                              unnest(to_tsvector(cfg, ${s.query})) AS t) t
          CROSS JOIN stats st
          CROSS JOIN LATERAL (
            SELECT k.chunks::float8 AS df FROM keyword_lexemes k
            WHERE k.tenant_id = ${s.tenantId}::uuid AND k.embedding_model = ${s.model.id} AND k.lexeme = t.lexeme
            OFFSET 0) f
          WHERE f.df > 0) r
        ORDER BY r.i)`;
    // Each posting of each term (t), read through the primary key, term by term; within a range of chunk ids when the
    // ranking runs in halves (the key's last column, so each half reads only its part of each term's postings).
    const postingsIn = (range: Prisma.Sql) => sql`
      terms t CROSS JOIN stats st
      CROSS JOIN LATERAL (
        SELECT x.chunk_id, x.tf, x.dl FROM chunk_terms x
        WHERE x.tenant_id = ${s.tenantId}::uuid AND x.embedding_model = ${s.model.id} AND x.lexeme = t.lexeme ${range}
        OFFSET 0) x`;
    const postings = postingsIn(sql``);
    // Candidates are checked against their chunk rows best first, and the checks stop once enough have passed (a
    // filter on a tenth of the documents used to check every chunk with any of the query's terms: 37,000 of them,
    // 0.3 s, for a query of three common words).
    const checked = sql`
      kw AS (
        SELECT s.id, s.score::float8 AS score
        FROM (SELECT id, score FROM scored ORDER BY score DESC, id) s
        CROSS JOIN LATERAL (
          SELECT 1 FROM chunks c JOIN qc ON qc.cfg = c.text_config
          WHERE c.id = s.id AND c.tsv @@ qc.tsq AND ${base}
          OFFSET 0) ok
        ORDER BY s.score DESC, s.id
        LIMIT ${candidates})`;
    // BM25 over the postings (ADR 27 §9), every posting of every term summed per chunk as the index yields them: with a
    // document filter or search operators, where every scored chunk may have to be checked against the filter and
    // the query's operators (filtering never happens after a top-k), and for the comparison the tests make.
    const exhaustiveArm = sql`
      ${terms},
      scored AS MATERIALIZED (
        SELECT x.chunk_id AS id, sum(${share}) AS score
        FROM ${postings}
        GROUP BY x.chunk_id
        ORDER BY score DESC, x.chunk_id
        LIMIT ${preselect}::bigint),
      ${checked}`;
    // A plain query without a document filter: the postings alone pick the best `k` (preselect) chunks before any
    // chunk row is read, and that top is found without reading the postings of the commonest terms when they cannot
    // change it (ADR 27 §11, MaxScore). The split (j) is the last term from which on looking up chunks in the terms'
    // postings is expected to cost less than reading them, if there is one: the chunks with any rarer term (the head)
    // get their partial scores, and theta is the k-th best. A chunk with none of the head's terms scores below rest(j)
    // (bound), so if bound < theta none of them is in the top: the head's chunks whose partial score plus bound can
    // reach theta are looked up in the other terms' postings, which makes their scores exact, and the top is theirs.
    // Otherwise (or with no split) the other terms are read too. Either way the top is the exhaustive ranking's
    // (tested against it); the branches not taken never run.
    const prunedArm = (k: number, postings: Prisma.Sql) => sql`
      ${terms},
      split AS MATERIALIZED (
        SELECT coalesce(max(i) FILTER (WHERE i > 1 AND before * ${LOOKUP_COST_IN_POSTINGS} * (m - i + 1) < rest_df
                                             AND rest < reachable),
                        max(m) + 1) AS j
        FROM (
          -- The most theta can be with the terms before i read: nothing if they have fewer than k postings; the
          -- commonest one's bound if the others have fewer than k (a k-th best chunk has only that one); else all
          -- their bounds. A split whose rest cannot get below it would only read the head twice.
          SELECT i, m, before, rest, rest_df,
                 CASE WHEN before < ${k}::bigint THEN 0
                      WHEN lag(before) OVER w < ${k}::bigint THEN lag(idf) OVER w * ${BM25_TERM_BOUND}
                      ELSE sum(idf * ${BM25_TERM_BOUND}) OVER () - rest
                 END AS reachable
          FROM terms WINDOW w AS (ORDER BY i)) c),
      head AS MATERIALIZED (
        SELECT x.chunk_id AS id, sum(${share}) AS score
        FROM ${postings}
        WHERE t.i < (SELECT j FROM split)
        GROUP BY x.chunk_id),
      cut AS MATERIALIZED (
        SELECT p.j, coalesce(t.rest, 0) AS bound,
               CASE WHEN t.rest IS NOT NULL
                    THEN coalesce((SELECT score FROM head ORDER BY score DESC OFFSET ${k - 1}::bigint LIMIT 1), 0)
               END AS theta
        FROM split p LEFT JOIN terms t ON t.i = p.j),
      survivors AS MATERIALIZED (
        SELECT h.id, h.score FROM head h CROSS JOIN cut c WHERE h.score + c.bound >= c.theta),
      scored AS MATERIALIZED (
        (SELECT y.id, sum(y.score) AS score
         FROM (SELECT id, score FROM survivors
               UNION ALL
               -- Each survivor looked up in each term left, one primary-key lookup apiece (as an array condition
               -- the planner may scan the term's postings and filter them instead).
               SELECT x.chunk_id, ${share}
               FROM terms t CROSS JOIN stats st CROSS JOIN (SELECT id FROM survivors ORDER BY id) v
               CROSS JOIN LATERAL (
                 SELECT x.chunk_id, x.tf, x.dl FROM chunk_terms x
                 WHERE x.tenant_id = ${s.tenantId}::uuid AND x.embedding_model = ${s.model.id}
                   AND x.lexeme = t.lexeme AND x.chunk_id = v.id
                 OFFSET 0) x
               WHERE t.i >= (SELECT j FROM cut)) y
         WHERE (SELECT bound > 0 AND bound < theta FROM cut)
         GROUP BY y.id
         ORDER BY score DESC, y.id
         LIMIT ${k}::bigint)
        UNION ALL
        -- A split that cannot leave the terms after it out: they are read too, and added to the head's scores.
        (SELECT y.id, sum(y.score) AS score
         FROM (SELECT id, score FROM head
               UNION ALL
               SELECT x.chunk_id, ${share} FROM ${postings} WHERE t.i >= (SELECT j FROM cut)) y
         WHERE (SELECT bound > 0 AND bound >= theta FROM cut)
         GROUP BY y.id
         ORDER BY score DESC, y.id
         LIMIT ${k}::bigint)
        UNION ALL
        -- No split: every posting, as the exhaustive ranking.
        (SELECT x.chunk_id AS id, sum(${share}) AS score
         FROM ${postings}
         WHERE (SELECT bound = 0 FROM cut)
         GROUP BY x.chunk_id
         ORDER BY score DESC, x.chunk_id
         LIMIT ${k}::bigint)),
      ${checked}`;
    const distance = sql`c.embedding::${vt} <=> ${q}::${vt}`;
    const nearest = sql`SELECT c.id, ${distance} AS distance, (1 - (${distance}))::float8 AS score`;
    // The vector ranking walks the HNSW index in distance order, the tenant, model and document conditions checked on
    // each chunk it yields (hnsw.iterative_scan keeps it going until enough pass). Those conditions sit inside a CASE:
    // the planner can match no index to it and estimates it at one chunk in two whatever the statistics say, so it
    // never trades the HNSW scan for the tenant's btree index and a sort of every chunk of the tenant, which is what
    // the default estimate for an equality (0.5 %) made it do before the first ANALYZE.
    const hnswScan = (gate: Prisma.Sql) => sql`
      ${nearest}
      FROM chunks c
      WHERE c.embedding_dim = ${s.model.dim} ${gate}
        AND CASE WHEN c.tenant_id = ${s.tenantId}::uuid AND c.embedding_model = ${s.model.id}
                      ${docExists ? sql`AND ${docExists}` : sql``}
                 THEN true END
      ORDER BY ${distance}
      LIMIT ${candidates}`;
    // With a document filter the statement decides, as it runs, between that scan and an exact ranking of the
    // filter's own chunks (read by document, the other conditions in a CASE for the same reason): the scan visits
    // about candidates × (tenant's chunks ÷ filter's chunks) chunks before enough pass the filter, the exact ranking
    // the filter's chunks, so it takes whichever is fewer. The counts come from documents.chunk_count and
    // keyword_stats, which the writers keep exact, not from statistics; the branch not taken is never run.
    const vectorArm = docFilter
      ? sql`
      allowed AS MATERIALIZED (
        SELECT d.id, coalesce(d.chunk_count, 0) AS chunk_count FROM documents d
        WHERE d.tenant_id = ${s.tenantId}::uuid AND ${docFilter}),
      exact AS MATERIALIZED (
        SELECT coalesce(sum(chunk_count), 0)::float8 ^ 2
                 <= ${candidates}::float8
                    * coalesce((SELECT chunks FROM keyword_stats
                                WHERE tenant_id = ${s.tenantId}::uuid AND embedding_model = ${s.model.id}), 0)
                 AS yes
        FROM allowed),
      vec AS (
        SELECT id, score FROM (
          (${nearest}
           FROM allowed a
           CROSS JOIN LATERAL (
             SELECT * FROM chunks x
             WHERE x.document_id = a.id
               AND CASE WHEN x.tenant_id = ${s.tenantId}::uuid AND x.embedding_model = ${s.model.id}
                             AND x.embedding_dim = ${s.model.dim}
                        THEN true END
             OFFSET 0) c
           WHERE (SELECT yes FROM exact)
           ORDER BY distance
           LIMIT ${candidates})
          UNION ALL
          (${hnswScan(sql`AND NOT (SELECT yes FROM exact)`)})) v)`
      : sql`
      vec AS (
        SELECT id, score FROM (${hnswScan(sql``)}) v)`;
    // Each ranking is one statement on a connection that already has the settings a search needs (search-client.ts);
    // a hybrid search runs the two side by side on two connections and combines them here (fuseRankings), so it
    // takes about as long as the slower of the two instead of both in turn (ADR 27 §12). The page's rows are read
    // afterwards, by id.
    const rankVector = () => {
      const statement = sql`WITH ${vectorArm} SELECT id, score FROM vec`;
      if (candidates <= HNSW_EF_SEARCH) return this.prisma.$queryRaw<RankedChunk[]>(statement);
      // A page deep enough to want more candidates than the HNSW scan's list keeps gets a longer list.
      const ef = String(Math.min(1000, candidates));
      return this.prisma.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT set_config('hnsw.ef_search', ${ef}, true)`;
        return tx.$queryRaw<RankedChunk[]>(statement);
      });
    };
    const keywordStatement = (arm: Prisma.Sql) =>
      this.prisma.$queryRaw<RankedChunk[]>`WITH ${tsq}, ${arm} SELECT id, score FROM kw`;
    // A plain query's ranking over many postings runs as two halves by chunk id on two connections (ADR 27 §13): a
    // chunk's score never spans halves, so the better `candidates` of the two halves' tops are exactly the top.
    const rankKeyword = async (): Promise<RankedChunk[]> => {
      if (preselect === null || s.exhaustive) return keywordStatement(exhaustiveArm);
      const split = await this.keywordSplit(s, s.splitFromPostings ?? SPLIT_FROM_POSTINGS);
      if (split === null) return keywordStatement(prunedArm(preselect, postings));
      const halves = await Promise.all([
        keywordStatement(prunedArm(preselect, postingsIn(sql`AND x.chunk_id < ${split.at}::uuid`))),
        keywordStatement(prunedArm(preselect, postingsIn(sql`AND x.chunk_id >= ${split.at}::uuid`))),
      ]);
      return halves.flat().sort(byScoreThenId).slice(0, candidates);
    };
    let ranked: FusedChunk[];
    if (s.mode === 'hybrid') {
      const [keyword, vector] = await Promise.all([rankKeyword(), rankVector()]);
      ranked = fuseRankings(keyword, vector);
    } else {
      const only = s.mode === 'keyword' ? await rankKeyword() : await rankVector();
      ranked = only
        .map((c) => ({
          id: c.id,
          score: c.score,
          vectorScore: s.mode === 'vector' ? c.score : null,
          keywordScore: s.mode === 'keyword' ? c.score : null,
        }))
        .sort(byScoreThenId);
    }
    const page = ranked.slice(s.offset, s.offset + want);
    const rows = await this.pageRows(s, page);
    const more = ranked.length > s.offset + s.topK;
    return { hits: rows.slice(0, s.topK), more };
  }

  /**
   * Where a plain query's keyword ranking splits in two (ADR 27 §13): the postings of its terms, and the chunk id in
   * the middle, in time, of its commonest term's first and last postings (two descents of the postings' key). Chunk
   * ids grow with time, so for a term spread over the tenant's writing that halves its postings and the others'
   * alike; any id gives the same ranking, only the halves' sizes depend on it. Null, with no posting read, when the
   * terms have fewer than `from` postings.
   */
  private async keywordSplit(s: ChunkSearch, from: number): Promise<{ at: string } | null> {
    const [row] = await this.prisma.$queryRaw<{ lo: string | null; hi: string | null }[]>`
      WITH terms AS MATERIALIZED (
        SELECT t.lexeme, f.df
        FROM (SELECT DISTINCT t.lexeme FROM unnest(${[...TEXT_SEARCH_CONFIGS]}::regconfig[]) AS cfg,
                                            unnest(to_tsvector(cfg, ${s.query})) AS t) t
        CROSS JOIN LATERAL (
          SELECT k.chunks AS df FROM keyword_lexemes k
          WHERE k.tenant_id = ${s.tenantId}::uuid AND k.embedding_model = ${s.model.id} AND k.lexeme = t.lexeme
          OFFSET 0) f),
      commonest AS MATERIALIZED (
        SELECT lexeme FROM terms WHERE (SELECT sum(df) FROM terms) >= ${from} ORDER BY df DESC, lexeme LIMIT 1)
      SELECT lo.chunk_id AS lo, hi.chunk_id AS hi
      FROM commonest c
      CROSS JOIN LATERAL (
        SELECT x.chunk_id FROM chunk_terms x
        WHERE x.tenant_id = ${s.tenantId}::uuid AND x.embedding_model = ${s.model.id} AND x.lexeme = c.lexeme
        ORDER BY x.chunk_id LIMIT 1) lo
      CROSS JOIN LATERAL (
        SELECT x.chunk_id FROM chunk_terms x
        WHERE x.tenant_id = ${s.tenantId}::uuid AND x.embedding_model = ${s.model.id} AND x.lexeme = c.lexeme
        ORDER BY x.chunk_id DESC LIMIT 1) hi`;
    if (!row?.lo || !row.hi) return null;
    return { at: midpointInTime(row.lo, row.hi) };
  }

  /**
   * The rows of a page of ranked chunks, in its order, with their highlights and section paths. A chunk deleted
   * since it was ranked is left out rather than shown as it was. Each lookup is a lateral primary-key read, which
   * no estimate can turn into a scan.
   */
  private async pageRows(s: ChunkSearch, page: FusedChunk[]): Promise<SearchHitRow[]> {
    if (page.length === 0) return [];
    const rows = await this.prisma.$queryRaw<
      {
        chunkId: string;
        documentId: string;
        filename: string;
        pageNumber: number;
        text: string;
        marked: string | null;
        sectionPath: string[] | null;
      }[]
    >`
      WITH ${keywordQuery(s.query)}
      SELECT c.id AS "chunkId", c.document_id AS "documentId", d.filename, c.page_number AS "pageNumber", c.text,
             CASE WHEN c.tsv @@ qc.tsq
                  THEN ts_headline(c.text_config, c.text, qc.tsq,
                                   ${`HighlightAll=true, StartSel=${MARK_START}, StopSel=${MARK_STOP}`})
             END AS marked,
             (SELECT array(SELECT jsonb_array_elements_text(sec->'path'))
                FROM pages p, jsonb_array_elements(coalesce(p.sections, '[]'::jsonb)) sec
               WHERE p.document_id = c.document_id AND p.page_number = c.page_number
                 AND (sec->>'offset')::int <= c.char_start
               ORDER BY (sec->>'offset')::int DESC LIMIT 1) AS "sectionPath"
      FROM unnest(${page.map((p) => p.id)}::uuid[]) WITH ORDINALITY AS page(id, n)
      CROSS JOIN LATERAL (
        SELECT * FROM chunks c WHERE c.id = page.id AND c.tenant_id = ${s.tenantId}::uuid OFFSET 0) c
      CROSS JOIN LATERAL (SELECT d.filename FROM documents d WHERE d.id = c.document_id OFFSET 0) d
      LEFT JOIN qc ON qc.cfg = c.text_config
      ORDER BY page.n`;
    const scores = new Map(page.map((p) => [p.id, p]));
    return rows.flatMap(({ marked, sectionPath, ...row }) => {
      const ranked = scores.get(row.chunkId);
      if (!ranked) return [];
      let highlights: { start: number; end: number }[] = [];
      if (marked !== null) {
        const { text, spans } = spansFromMarked(marked, MARK_START, MARK_STOP);
        // ts_headline rebuilds the text from its tokens; spans count only where it gave the same text back.
        if (text === row.text) highlights = spans;
      }
      return [
        {
          ...row,
          score: ranked.score,
          vectorScore: ranked.vectorScore,
          keywordScore: ranked.keywordScore,
          sectionPath: sectionPath ?? [],
          highlights,
        },
      ];
    });
  }
}

/**
 * The query parsed with every configuration chunks are indexed with (`qc`: one tsquery per configuration). Each
 * chunk is matched and highlighted against the parse of its own configuration, so an English chunk answers to English
 * stems and stop words, and a negation in one parse cannot be satisfied by another's spelling. Plain queries become an OR of their terms (see
 * {@link usesSearchOperators}); a parse left empty (stop words only) matches nothing.
 */
function keywordQuery(query: string): Prisma.Sql {
  const parse = usesSearchOperators(query)
    ? sql`websearch_to_tsquery(cfg, ${query})`
    : // Without operators a parse is terms joined by & (and <-> inside a hyphenated word, kept as it is).
      sql`replace(websearch_to_tsquery(cfg, ${query})::text, ' & ', ' | ')::tsquery`;
  return sql`
    qc AS (SELECT cfg, ${parse} AS tsq FROM unnest(${[...TEXT_SEARCH_CONFIGS]}::regconfig[]) AS cfg)`;
}

function metadataCondition(key: string, condition: MetadataCondition): Prisma.Sql {
  if (condition !== null && typeof condition === 'object') {
    return sql`d.metadata -> ${key} = ANY(ARRAY(SELECT jsonb_array_elements(${JSON.stringify(condition.in)}::jsonb)))`;
  }
  return sql`d.metadata @> ${JSON.stringify({ [key]: condition })}::jsonb`;
}

/** The filter's conditions on `documents d`, AND-ed; undefined when it has none. */
export function documentConditions(filter: SearchFilter | undefined): Prisma.Sql | undefined {
  if (!filter) return undefined;
  const conditions: Prisma.Sql[] = [];
  if (filter.documentIds) conditions.push(sql`d.id = ANY(${filter.documentIds}::uuid[])`);
  if (filter.jobIds) conditions.push(sql`d.job_id = ANY(${filter.jobIds}::uuid[])`);
  if (filter.filename) conditions.push(sql`d.filename LIKE ${globToLike(filter.filename)}`);
  if (filter.detectedTypes) conditions.push(sql`d.detected_type = ANY(${filter.detectedTypes}::text[])`);
  if (filter.createdAfter) conditions.push(sql`d.created_at >= ${filter.createdAfter}::timestamptz`);
  if (filter.createdBefore) conditions.push(sql`d.created_at < ${filter.createdBefore}::timestamptz`);
  if (filter.tags) conditions.push(sql`d.tags @> ${filter.tags}::text[]`);
  for (const [key, condition] of Object.entries(filter.metadata ?? {}))
    conditions.push(metadataCondition(key, condition));
  return conditions.length === 0 ? undefined : Prisma.join(conditions, ' AND ');
}
