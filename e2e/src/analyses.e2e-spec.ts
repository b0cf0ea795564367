import {
  analyse as analyseOn,
  DOCS,
  expectRealCitations as realCitations,
  LABELS,
  uploadAndClassify,
  uploadFiveKinds,
  type AnalysisJob,
  type Citation,
} from './analyses-fixture';
import { QuarryStack } from './stack';

// Analyses through the real stack, offline (no language model): five documents of clearly different kinds, each
// classified to its label by embedding similarity; an answer and a summary quoted from the documents with
// citations that point at real chunks; a report that goes retrieving → scoring → writing.

describe('analyses, offline', () => {
  let stack: QuarryStack;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    stack = await QuarryStack.start('analyses');
    Object.assign(ids, await uploadFiveKinds(stack));
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const analyse = (body: unknown): Promise<AnalysisJob> => analyseOn(stack, body);
  const expectRealCitations = (citations: Citation[]) => realCitations(stack, citations);

  it('classifies five different documents by their labels, by embedding similarity', async () => {
    const job = await analyse({ type: 'classify', labels: LABELS, documentIds: Object.values(ids) });
    expect(job.status).toBe('succeeded');
    const result = job.result as {
      method: string;
      results: { documentId: string; filename: string; labels: string[]; scores: { score: number }[] }[];
    };
    expect(result.method).toBe('embedding');
    const got = Object.fromEntries(result.results.map((r) => [r.filename, r.labels]));
    const want = Object.fromEntries(Object.entries(DOCS).map(([name, d]) => [name, [d.label]]));
    expect(got).toEqual(want);
    for (const r of result.results) {
      expect(r.scores.reduce((a, s) => a + s.score, 0)).toBeCloseTo(1, 2);
    }
  });

  it('answers a question with sentences quoted from the documents, citing their chunks', async () => {
    const job = await analyse({ type: 'answer', question: 'How much is due for the dredging services?' });
    expect(job.status).toBe('succeeded');
    const result = job.result as { method: string; answer: string | null; citations: Citation[] };
    expect(result.method).toBe('extractive');
    expect(result.answer).toContain('4,250.00 EUR');
    expect(result.citations[0]?.documentId).toBe(ids['invoice.txt']);
    await expectRealCitations(result.citations);
  });

  it('says it has no answer rather than inventing one', async () => {
    const job = await analyse({ type: 'answer', question: 'volcanic eruptions in Iceland' });
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({ answer: null, citations: [] });
  });

  it('summarizes the documents a filter selects, quoting their central sentences', async () => {
    const job = await analyse({ type: 'summarize', length: 'short', filter: { filename: 'recipe*' } });
    expect(job.status).toBe('succeeded');
    const result = job.result as { method: string; summary: string; citations: Citation[] };
    expect(result.method).toBe('extractive');
    expect(result.citations.every((c) => c.documentId === ids['recipe.txt'])).toBe(true);
    expect(result.summary.length).toBeGreaterThan(40);
    await expectRealCitations(result.citations);
  });

  it('writes a ranked report after scoring every candidate document', async () => {
    const job = await analyse({ type: 'report', question: 'Which documents talk about payment of money?' });
    expect(job.status).toBe('succeeded');
    const result = job.result as {
      documents: { documentId: string; score: number; citations: Citation[] }[];
      report: string;
    };
    expect(result.documents[0]?.documentId).toBe(ids['invoice.txt']);
    const scores = result.documents.map((d) => d.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(result.report).toContain('invoice.txt');
    await expectRealCitations(result.documents.flatMap((d) => d.citations));
    // Every candidate was scored once and kept, so a redelivery would not score it again.
    expect(job.progress).toMatchObject({ step: 'analyze', done: 1, total: 1 });
  });

  it('classifies on upload: one call uploads, indexes and labels each file, in the classification result shape', async () => {
    const job = await uploadAndClassify(stack, 'again-');
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({ totalFiles: 5, successful: 5, failed: 0 });
    const got = Object.fromEntries(job.result.results.map((r) => [r.filename, r.labels]));
    expect(got).toEqual(
      Object.fromEntries(Object.entries(DOCS).map(([name, d]) => [`again-${name}`, [d.label]])),
    );

    const bad = new FormData();
    bad.append('files', new Blob(['text'], { type: 'text/plain' }), 'a.txt');
    bad.append('classify', 'only-one-label');
    const refused = await stack.request<{ code: string }>('POST', '/v1/documents', { form: bad });
    expect([refused.status, refused.body.code]).toEqual([400, 'validation_failed']);
  });

  it('fails with a reason when the selection matches nothing, and refuses bad requests', async () => {
    const job = await analyse({ type: 'classify', labels: LABELS, filter: { tags: ['no-such-tag'] } });
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'no_documents' });

    for (const bad of [
      { type: 'guess' },
      { type: 'classify', labels: [], documentIds: [ids['recipe.txt']] },
      { type: 'classify', labels: LABELS },
      { type: 'answer', question: 'q'.repeat(100_000) },
      { type: 'answer', question: 'x', filter: { metadata: { "k') OR 1=1 --": 1 } } },
    ]) {
      const res = await stack.request<{ code: string }>('POST', '/v1/analyses', { json: bad });
      expect([JSON.stringify(bad).slice(0, 60), res.status, res.body.code]).toEqual([
        JSON.stringify(bad).slice(0, 60),
        400,
        'validation_failed',
      ]);
    }
    const extract = await stack.request<{ code: string }>('POST', '/v1/analyses', {
      json: { type: 'extract', schema: { type: 'object' }, documentIds: [ids['invoice.txt']] },
    });
    expect([extract.status, extract.body.code]).toEqual([422, 'llm_not_configured']);
  });
});
