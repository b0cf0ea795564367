import { createHash } from 'node:crypto';
import { MessageIds, topology, uuidv7 } from '@quarry/contracts';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createEmptyDatabase, type TestDatabase } from '@quarry/test-kit';
import { createPrismaClient, type PrismaClient } from '../prisma';
import { RecordingAfterCommit } from './__fixtures__/recording-after-commit';
import { createSearchPrismaClient, type SearchPrismaClient } from './search-client';
import { ChunksRepository } from './chunks.repository';
import { JobsRepository, TenantsRepository } from './jobs.repository';
import { ExtractionRepository } from './extraction.repository';
import { IndexingRepository } from './indexing.repository';
import type { ChunkInput } from './types';

// Vector search over chunks stored by the real step repositories: nearest first, and only the tenant, the model
// and the dimension asked for.

const topo = topology('qt_chunks');

let db: TestDatabase | undefined;
let prisma: PrismaClient;
let search: SearchPrismaClient;
let chunks: ChunksRepository;
let tenantA: string;
let tenantB: string;
const docs: Record<string, { id: string; filename: string }> = {};

/** A unit-length vector of `dim` components from the first few given (the rest zero). */
function vec(dim: number, ...head: number[]): Float32Array {
  const v = new Float32Array(dim);
  head.forEach((x, i) => (v[i] = x));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** Stores one job with one document whose chunks carry the given vectors, through both steps. */
async function indexDocument(
  tenantId: string,
  name: string,
  model: { id: string; dim: number },
  vectors: Record<string, Float32Array>,
): Promise<void> {
  const jobId = uuidv7();
  const documentId = uuidv7();
  const filename = `${name}.txt`;
  const after = new RecordingAfterCommit();
  await new JobsRepository(prisma, after).createIngestJob({
    id: jobId,
    tenantId,
    idempotencyKey: null,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: null,
    documents: [
      {
        id: documentId,
        filename,
        claimedContentType: null,
        sha256: createHash('sha256').update(documentId).digest('hex'),
        sizeBytes: 1,
        blobKey: `blobs/${documentId}`,
      },
    ],
    outbox: [],
  });
  const extractionStep = new ExtractionRepository(prisma, topo, after);
  const indexStep = new IndexingRepository(prisma, topo, after);
  const extracting = await extractionStep.claimForExtraction(tenantId, documentId);
  if (!extracting.claimed) throw new Error(extracting.reason);
  await extractionStep.completeExtraction(
    extracting.work,
    { detectedType: 'text', pages: [{ pageNumber: 1, text: 'x' }] },
    {
      tenantId,
      jobId,
      subject: topo.commandSubject('indexDocument'),
      msgId: MessageIds.command('indexDocument', jobId, documentId),
      payload: {},
      headers: {},
    },
  );
  const indexing = await indexStep.claimForIndexing(tenantId, documentId);
  if (!indexing.claimed) throw new Error(indexing.reason);
  const input: ChunkInput[] = Object.entries(vectors).map(([text, embedding], i) => ({
    pageNumber: i + 1,
    ordinal: i,
    text,
    tokenCount: 1,
    charStart: 0,
    charEnd: text.length,
    embedding,
  }));
  await indexStep.completeIndexing(indexing.work, input, model);
  docs[name] = { id: documentId, filename };
}

const X4 = { id: 'model-x', dim: 4 };
const Y4 = { id: 'model-y', dim: 4 };
const Z3 = { id: 'model-z', dim: 3 };
const USE = { id: 'use-lite', dim: 512 };

beforeAll(async () => {
  db = await createEmptyDatabase('chunks', { create: false });
  await runMigrations({ databaseUrl: db.url, migrationsDir: findMigrationsDir(__dirname) });
  prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  search = createSearchPrismaClient({ databaseUrl: db.url, poolMax: 4 });
  chunks = new ChunksRepository(search);
  const tenants = new TenantsRepository(prisma);
  tenantA = (await tenants.ensureTenantWithKey('chunks-a', 'key-chunks-a-0123')).tenantId;
  tenantB = (await tenants.ensureTenantWithKey('chunks-b', 'key-chunks-b-0123')).tenantId;

  await indexDocument(tenantA, 'a-x', X4, {
    'a-x far': vec(4, 0, 1),
    'a-x nearest': vec(4, 1, 0.05),
    'a-x opposite': vec(4, -1),
    'a-x near': vec(4, 0.8, 0.6),
  });
  // Same dimension, other model: its vectors are closer to the query yet must never be compared.
  await indexDocument(tenantA, 'a-y', Y4, { 'a-y exact': vec(4, 1) });
  await indexDocument(tenantA, 'a-z', Z3, { 'a-z exact': vec(3, 1) });
  // Other tenant, same model: an exact match that tenant A must not see.
  await indexDocument(tenantB, 'b-x', X4, { 'b-x exact': vec(4, 1), 'b-x near': vec(4, 0.9, 0.1) });
  await indexDocument(tenantA, 'a-use', USE, {
    'a-use 0': vec(512, 1),
    'a-use 1': vec(512, 0, 1),
    'a-use 2': vec(512, 0.7, 0.7),
  });
  await indexDocument(tenantB, 'b-use', USE, { 'b-use 0': vec(512, 1) });
});

afterAll(async () => {
  await search?.$disconnect();
  await prisma?.$disconnect();
  await db?.drop();
});

/** The vector mode of ChunksRepository.search, first page. */
const byVector = async (
  tenantId: string,
  model: { id: string; dim: number },
  vector: Float32Array,
  topK: number,
) => (await chunks.search({ tenantId, mode: 'vector', query: ' ', vector, model, topK, offset: 0 })).hits;

describe('ChunksRepository.search, vector mode', () => {
  it('returns the tenant’s nearest chunks of the asked model first, with cosine scores', async () => {
    const hits = await byVector(tenantA, X4, vec(4, 1), 3);
    expect(hits.map((h) => h.text)).toEqual(['a-x nearest', 'a-x near', 'a-x far']);
    expect(hits[0]).toEqual({
      chunkId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      documentId: docs['a-x']?.id,
      filename: 'a-x.txt',
      pageNumber: 2,
      sectionPath: [],
      text: 'a-x nearest',
      score: expect.closeTo(0.9988, 3) as unknown,
      vectorScore: expect.closeTo(0.9988, 3) as unknown,
      keywordScore: null,
      highlights: [],
    });
    expect(hits[1]?.score).toBeCloseTo(0.8, 5);
    expect(hits[2]?.score).toBeCloseTo(0, 5);

    const all = await byVector(tenantA, X4, vec(4, 1), 100);
    expect(all.map((h) => h.text)).toEqual(['a-x nearest', 'a-x near', 'a-x far', 'a-x opposite']);
    expect(all[3]?.score).toBeCloseTo(-1, 5);
  });

  it('keeps tenants apart', async () => {
    const hits = await byVector(tenantB, X4, vec(4, 1), 10);
    expect(hits.map((h) => h.text)).toEqual(['b-x exact', 'b-x near']);
    expect(hits.every((h) => h.documentId === docs['b-x']?.id)).toBe(true);
  });

  it('never mixes models or dimensions', async () => {
    expect((await byVector(tenantA, Y4, vec(4, 1), 10)).map((h) => h.text)).toEqual(['a-y exact']);
    expect((await byVector(tenantA, Z3, vec(3, 1), 10)).map((h) => h.text)).toEqual(['a-z exact']);
    // Right model id, wrong dimension: nothing, rather than a cast error.
    expect(await byVector(tenantA, { id: 'model-x', dim: 3 }, vec(3, 1), 10)).toEqual([]);
    expect(await byVector(tenantA, { id: 'unknown', dim: 4 }, vec(4, 1), 10)).toEqual([]);
  });

  it('searches 512-d vectors (the dimension with an HNSW index)', async () => {
    const hits = await byVector(tenantA, USE, vec(512, 0.1, 1), 2);
    expect(hits.map((h) => h.text)).toEqual(['a-use 1', 'a-use 2']);
  });

  it('rejects a dimension that is not a positive integer', async () => {
    await expect(byVector(tenantA, { id: 'm', dim: 0 }, vec(4, 1), 1)).rejects.toThrow(/bad dimension/);
    await expect(byVector(tenantA, { id: 'm', dim: 2.5 }, vec(4, 1), 1)).rejects.toThrow(/bad dimension/);
  });
});
