import { waitFor } from '@quarry/testing';
import { QuarryStack, type JobBody } from './stack';

// Analyses through the real stack, offline (no language model): five documents of clearly different kinds, each
// classified to its label by embedding similarity; an answer and a summary quoted from the documents with
// citations that point at real chunks; a report that goes retrieving → scoring → writing.

const DOCS: Record<string, { label: string; text: string }> = {
  'invoice.txt': {
    label: 'invoice',
    text:
      'Invoice INV-20931\n\nBill to: Harbour Authority, 12 Quay Street.\n\n' +
      'Amount due: 4,250.00 EUR for dredging services in March. Payment is due within thirty days of the invoice ' +
      'date. Please transfer the total to the bank account below and quote the invoice number. Late payment ' +
      'incurs interest of one percent per month on the outstanding balance.',
  },
  'recipe.txt': {
    label: 'recipe',
    text:
      'Tomato soup\n\nIngredients: six ripe tomatoes, one onion, two cloves of garlic, olive oil, salt and basil.\n\n' +
      'Chop the onion and fry it gently in olive oil until soft. Add the garlic and the chopped tomatoes and ' +
      'simmer for twenty minutes. Blend the soup until smooth, season with salt and serve with fresh basil leaves ' +
      'and warm bread.',
  },
  'match.txt': {
    label: 'sports',
    text:
      'Match report\n\nThe home team won the football match three goals to one on Saturday afternoon. The striker ' +
      'scored twice in the first half, and the goalkeeper saved a penalty before the break. After the final ' +
      'whistle the coach praised the players for their defence and the fans sang in the stadium.',
  },
  'forecast.txt': {
    label: 'weather',
    text:
      'Weather forecast\n\nTomorrow will bring heavy rain and strong winds along the coast, with temperatures ' +
      'falling to eight degrees. Thunderstorms are likely in the afternoon. Snow may fall on the hills overnight, ' +
      'and the weekend should be sunny and cold with light clouds.',
  },
  'tutorial.txt': {
    label: 'programming',
    text:
      'Writing your first function\n\nIn Python a function is defined with the def keyword, a name and its ' +
      'parameters. The function parseInvoiceTotal(lines) returns the sum of the amounts it reads. Call the function ' +
      'from your program, write unit tests for it, and run the tests with pytest before you commit the code.',
  },
};

const LABELS = [
  { name: 'invoice', description: 'a bill asking for payment of an amount of money' },
  { name: 'recipe', description: 'cooking instructions with ingredients for a dish' },
  { name: 'sports', description: 'a report about a football game, players and goals' },
  { name: 'weather', description: 'a forecast of rain, wind, temperature and storms' },
  { name: 'programming', description: 'software code, functions and programming in Python' },
];

interface AnalysisJob extends JobBody {
  result: Record<string, unknown> | null;
  input: Record<string, unknown>;
}

interface Citation {
  documentId: string;
  filename: string;
  page: number;
  chunkId: string;
  quote: string;
}

describe('analyses, offline', () => {
  let stack: QuarryStack;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    stack = await QuarryStack.start('analyses');
    const upload = await stack.upload(
      Object.entries(DOCS).map(([name, d]) => ({
        name,
        bytes: new TextEncoder().encode(d.text),
        type: 'text/plain',
      })),
    );
    expect(upload.status).toBe(202);
    const job = await stack.waitForTerminal(upload.body.id);
    expect(job.status).toBe('succeeded');
    for (const d of job.documents) ids[d.filename] = d.id;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  async function analyse(body: unknown): Promise<AnalysisJob> {
    const res = await stack.request<AnalysisJob>('POST', '/v1/analyses', { json: body });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    return waitFor(
      async () => {
        const r = await stack.request<AnalysisJob>('GET', `/v1/analyses/${res.body.id}`);
        return ['succeeded', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'analysis ended' },
    );
  }

  /** Every citation quotes text that is in the chunk it names, on the page it names. */
  async function expectRealCitations(citations: Citation[]): Promise<void> {
    expect(citations.length).toBeGreaterThan(0);
    for (const c of citations) {
      const doc = await stack.request<{ pages: { pageNumber: number; text: string }[] }>(
        'GET',
        `/v1/documents/${c.documentId}`,
      );
      const page = doc.body.pages.find((p) => p.pageNumber === c.page);
      expect(page?.text.replace(/\s+/g, ' ')).toContain(c.quote);
    }
  }

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
    const form = new FormData();
    for (const [name, d] of Object.entries(DOCS))
      form.append('files', new Blob([d.text], { type: 'text/plain' }), `again-${name}`);
    form.append('classify', JSON.stringify({ labels: LABELS }));
    const upload = await stack.request<{ id: string }>('POST', '/v1/documents', { form });
    expect(upload.status).toBe(202);
    await stack.waitForTerminal(upload.body.id);
    const job = await stack.request<{
      status: string;
      result: {
        totalFiles: number;
        successful: number;
        failed: number;
        results: { filename: string; status: string; labels: string[]; error: unknown }[];
      };
    }>('GET', `/v1/jobs/${upload.body.id}`);
    expect(job.body.status).toBe('succeeded');
    expect(job.body.result).toMatchObject({ totalFiles: 5, successful: 5, failed: 0 });
    const got = Object.fromEntries(job.body.result.results.map((r) => [r.filename, r.labels]));
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
