import { createHash } from 'node:crypto';
import { MessageIds, uuidv7, type Topology } from '@quarry/contracts';
import type { PrismaClient } from '../../prisma';
import { ExtractionRepository } from '../extraction.repository';
import { IndexingRepository } from '../indexing.repository';
import { JobsRepository } from '../jobs.repository';
import { RecordingAfterCommit } from './recording-after-commit';

/** One document of one page for the search tests: its chunks' texts, one after the other, and their vectors. */
export interface TestDocument {
  tenantId: string;
  filename: string;
  model: { id: string; dim: number };
  /** The chunks' text-search configuration, and the document's language (null: none). */
  text: { language: string | null; config: string };
  detectedType?: 'pdf' | 'text';
  tags?: string[];
  metadata?: Record<string, unknown>;
  sections?: { offset: number; path: string[] }[];
  chunks: { text: string; vector: Float32Array }[];
}

/**
 * Stores one job with one document and indexes it through the worker's write path (job created, extraction and
 * indexing claimed and completed by the step repositories, so the keyword index's triggers run as in production),
 * then sets its tags and metadata. Returns the ids.
 */
export async function indexTestDocument(
  prisma: PrismaClient,
  topo: Topology,
  doc: TestDocument,
): Promise<{ documentId: string; jobId: string }> {
  const jobId = uuidv7();
  const documentId = uuidv7();
  const after = new RecordingAfterCommit();
  await new JobsRepository(prisma, after).createIngestJob({
    id: jobId,
    tenantId: doc.tenantId,
    idempotencyKey: null,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    traceId: null,
    documents: [
      {
        id: documentId,
        filename: doc.filename,
        claimedContentType: null,
        sha256: createHash('sha256').update(documentId).digest('hex'),
        sizeBytes: 1,
        blobKey: `blobs/${documentId}`,
      },
    ],
    outbox: [],
  });
  const extraction = new ExtractionRepository(prisma, topo, after);
  const indexing = new IndexingRepository(prisma, topo, after);
  const claimed = await extraction.claimForExtraction(doc.tenantId, documentId);
  if (!claimed.claimed) throw new Error(claimed.reason);
  await extraction.completeExtraction(
    claimed.work,
    {
      detectedType: doc.detectedType ?? 'text',
      pages: [
        { pageNumber: 1, text: doc.chunks.map((c) => c.text).join('\n'), sections: doc.sections ?? [] },
      ],
    },
    {
      tenantId: doc.tenantId,
      jobId,
      subject: topo.commandSubject('indexDocument'),
      msgId: MessageIds.command('indexDocument', jobId, documentId),
      payload: {},
      headers: {},
    },
  );
  const indexClaim = await indexing.claimForIndexing(doc.tenantId, documentId);
  if (!indexClaim.claimed) throw new Error(indexClaim.reason);
  let at = 0;
  await indexing.completeIndexing(
    indexClaim.work,
    doc.chunks.map((c, i) => {
      const start = at;
      at += c.text.length + 1;
      return {
        pageNumber: 1,
        ordinal: i,
        text: c.text,
        tokenCount: 1,
        charStart: start,
        charEnd: start + c.text.length,
        embedding: c.vector,
      };
    }),
    doc.model,
    doc.text,
  );
  await prisma.$executeRaw`
    UPDATE documents SET tags = ${doc.tags ?? []}::text[], metadata = ${JSON.stringify(doc.metadata ?? {})}::jsonb
    WHERE id = ${documentId}::uuid`;
  return { documentId, jobId };
}
