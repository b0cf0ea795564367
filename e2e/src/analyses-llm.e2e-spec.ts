import { OpenAiStandIn, type ChatCall, type StandInReply } from '@quarry/testing';
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

// Analyses with a language model: the apps configured with LLM_BASE_URL pointing at an OpenAI-compatible server on
// loopback that answers from recorded answers, talked to by the real `openai` client inside the analysis worker.
// Proves the LLM path (JSON-schema structured outputs, citations mapped to real chunks), token accounting per job,
// and that a model that answers badly or not at all ends the job with llm_invalid_output / llm_unavailable after
// its retries instead of hanging.

const LLM_TIMEOUT_MS = 1000;
const PROMPT_TOKENS = 100;
const COMPLETION_TOKENS = 10;

/** Each document's first line, by which a recorded answer recognises it in a prompt. */
const TITLES = Object.values(DOCS).map((d) => ({ title: d.text.split('\n')[0] ?? '', label: d.label }));

/** The numbered passages of a prompt (`[n] (file, page p) text`), as the worker writes them. */
function passages(prompt: string): { n: number; text: string }[] {
  return [...prompt.matchAll(/^\[(\d+)\] \([^)]*\) (.*)$/gm)].map((m) => ({
    n: Number(m[1]),
    text: m[2] ?? '',
  }));
}

/** The recorded answers: what a model would say to each kind of request about these five documents. */
function recorded(call: ChatCall): StandInReply {
  const tokens = { promptTokens: PROMPT_TOKENS, completionTokens: COMPLETION_TOKENS };
  switch (call.responseFormat?.json_schema?.name) {
    case 'classification': {
      const doc = TITLES.find((t) => call.prompt.includes(t.title));
      return doc
        ? { content: { labels: [doc.label], reason: `it reads like a ${doc.label}` }, ...tokens }
        : { content: 'unrecognised document' };
    }
    case 'extraction':
      return call.prompt.includes('INV-20931')
        ? { content: { invoiceNumber: 'INV-20931', amountDue: 4250, currency: 'EUR' }, ...tokens }
        : { content: { invoiceNumber: 'none', amountDue: 0, currency: 'EUR' }, ...tokens };
    case 'answer': {
      const source = passages(call.prompt).find((p) => p.text.includes('4,250.00 EUR'));
      return source
        ? {
            content: { text: 'The amount due is 4,250.00 EUR, within thirty days.', sources: [source.n, 99] },
            ...tokens,
          }
        : { content: { text: null, sources: [] }, ...tokens };
    }
    case 'summary':
      return {
        content: {
          text: 'A tomato soup of tomatoes, onion and garlic, blended and served with basil.',
          sources: [1, 2],
        },
        ...tokens,
      };
    case 'relevance': {
      const payment = call.prompt.includes('Invoice INV-20931') || call.prompt.includes('Amount due');
      return {
        content: { relevance: payment ? 0.95 : 0.05, reason: payment ? 'asks for payment' : 'unrelated' },
        ...tokens,
      };
    }
    case 'report':
      return { content: { report: 'invoice.txt asks for 4,250.00 EUR for dredging services.' }, ...tokens };
    default:
      return { status: 400, body: { error: { message: 'unexpected request' } } };
  }
}

describe('analyses with a language model (OpenAI-compatible server on loopback)', () => {
  let stack: QuarryStack;
  let llm: OpenAiStandIn;
  let ids: Record<string, string> = {};
  /** Replaces the recorded answers for the failure tests. */
  let override: ((call: ChatCall) => StandInReply) | undefined;

  beforeAll(async () => {
    llm = await OpenAiStandIn.start({ chat: (call) => (override ?? recorded)(call) });
    stack = await QuarryStack.start('analyses-llm', {
      LLM_BASE_URL: llm.baseUrl,
      LLM_API_KEY: 'sk-e2e',
      LLM_MODEL: 'stand-in-model',
      LLM_TIMEOUT_MS: String(LLM_TIMEOUT_MS),
    });
    ids = await uploadFiveKinds(stack);
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await llm?.close();
  });

  beforeEach(() => {
    override = undefined;
    llm.chatCalls.splice(0);
  });

  const analyse = (body: unknown, timeoutMs?: number): Promise<AnalysisJob> =>
    analyseOn(stack, body, timeoutMs);
  const expectRealCitations = (citations: Citation[]) => realCitations(stack, citations);

  it('classifies five documents with the model, through a strict JSON schema, and counts the tokens of the job', async () => {
    const job = await analyse({ type: 'classify', labels: LABELS, documentIds: Object.values(ids) });
    expect(job.status).toBe('succeeded');
    const result = job.result as {
      method: string;
      model: string;
      results: { filename: string; labels: string[]; reason: string; scores: { name: string }[] }[];
      usage: Record<string, number | string>;
    };
    expect(result.method).toBe('llm');
    expect(result.model).toBe('stand-in-model');
    expect(Object.fromEntries(result.results.map((r) => [r.filename, r.labels]))).toEqual(
      Object.fromEntries(Object.entries(DOCS).map(([name, d]) => [name, [d.label]])),
    );
    for (const r of result.results) {
      expect(r.reason).toBe(`it reads like a ${r.labels[0]}`);
      expect(r.scores.map((s) => s.name).sort()).toEqual(LABELS.map((l) => l.name).sort());
    }
    // The request the real client made: the model, the key, a strict schema whose labels are the enum.
    expect(llm.chatCalls).toHaveLength(5);
    const [call] = llm.chatCalls;
    expect(call?.model).toBe('stand-in-model');
    expect(call?.headers.authorization).toBe('Bearer sk-e2e');
    expect(call?.responseFormat).toMatchObject({
      type: 'json_schema',
      json_schema: {
        name: 'classification',
        strict: true,
        schema: { properties: { labels: { items: { enum: LABELS.map((l) => l.name) } } } },
      },
    });
    expect(result.usage).toEqual({
      model: 'stand-in-model',
      calls: 5,
      promptTokens: 5 * PROMPT_TOKENS,
      completionTokens: 5 * COMPLETION_TOKENS,
      totalTokens: 5 * (PROMPT_TOKENS + COMPLETION_TOKENS),
    });
  });

  it("extracts an object valid against the client's schema, and refuses a schema that is not valid", async () => {
    const schema = {
      type: 'object',
      properties: {
        invoiceNumber: { type: 'string' },
        amountDue: { type: 'number', minimum: 0 },
        currency: { type: 'string', enum: ['EUR', 'USD'] },
      },
      required: ['invoiceNumber', 'amountDue', 'currency'],
    };
    const job = await analyse({ type: 'extract', schema, documentIds: [ids['invoice.txt']] });
    expect(job.status).toBe('succeeded');
    expect(job.result).toMatchObject({
      type: 'extract',
      method: 'llm',
      results: [
        {
          documentId: ids['invoice.txt'],
          output: { invoiceNumber: 'INV-20931', amountDue: 4250, currency: 'EUR' },
        },
      ],
      usage: { calls: 1 },
    });
    expect(llm.chatCalls[0]?.responseFormat?.json_schema).toMatchObject({ schema, strict: false });

    const bad = await stack.request<{ code: string; message: string }>('POST', '/v1/analyses', {
      json: {
        type: 'extract',
        schema: { type: 'object', properties: { a: { type: 'strin' } } },
        documentIds: [ids['invoice.txt']],
      },
    });
    expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
    expect(bad.body.message).toMatch(/schema/);
  });

  it('answers from retrieved passages, citing the ones the model named and dropping numbers it made up', async () => {
    const job = await analyse({ type: 'answer', question: 'How much is due for the dredging services?' });
    expect(job.status).toBe('succeeded');
    const result = job.result as { method: string; answer: string; citations: Citation[] };
    expect(result.method).toBe('llm');
    expect(result.answer).toBe('The amount due is 4,250.00 EUR, within thirty days.');
    expect(result.citations).toHaveLength(1);
    expect(result.citations[0]?.documentId).toBe(ids['invoice.txt']);
    await expectRealCitations(result.citations);
  });

  it('summarizes with citations and writes a report from per-document relevance scores', async () => {
    const summary = await analyse({ type: 'summarize', length: 'short', filter: { filename: 'recipe*' } });
    expect(summary.status).toBe('succeeded');
    const s = summary.result as { method: string; summary: string; citations: Citation[] };
    expect(s.method).toBe('llm');
    expect(s.summary).toMatch(/tomato soup/);
    await expectRealCitations(s.citations);

    const report = await analyse({ type: 'report', question: 'Which documents ask for payment of money?' });
    expect(report.status).toBe('succeeded');
    const r = report.result as {
      method: string;
      documents: { documentId: string; score: number; reason: string; citations: Citation[] }[];
      report: string;
      usage: { calls: number };
    };
    expect(r.method).toBe('llm');
    expect(r.documents[0]).toMatchObject({
      documentId: ids['invoice.txt'],
      score: 0.95,
      reason: 'asks for payment',
    });
    expect(r.report).toContain('invoice.txt');
    // One scoring call per candidate and one to write: all in the job's usage.
    expect(r.usage.calls).toBe(r.documents.length + 1);
    const reportCalls = llm.chatCalls.filter((c) => c.responseFormat?.json_schema?.name !== 'summary');
    expect(reportCalls).toHaveLength(r.documents.length + 1);
    await expectRealCitations(r.documents.flatMap((d) => d.citations));
  });

  it('classifies on upload with the model, keeping its reason', async () => {
    const job = await uploadAndClassify(stack, 'upload-');
    expect(job.result.successful).toBe(5);
    expect(Object.fromEntries(job.result.results.map((r) => [r.filename, r.labels]))).toEqual(
      Object.fromEntries(Object.entries(DOCS).map(([name, d]) => [`upload-${name}`, [d.label]])),
    );
    expect(
      llm.chatCalls.filter((c) => c.responseFormat?.json_schema?.name === 'classification'),
    ).toHaveLength(5);
  });

  it('retries a model that answers with invalid JSON, then fails the job with llm_invalid_output', async () => {
    override = () => ({ content: 'Certainly! It is an invoice.' });
    const job = await analyse({
      type: 'extract',
      schema: { type: 'object' },
      documentIds: [ids['invoice.txt']],
    });
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({
      code: 'llm_invalid_output',
      message: expect.stringMatching(/not JSON/) as unknown,
    });
    // Every delivery asked once (MAX_DELIVER 5 in the stack), none asked again after the job failed.
    expect(llm.chatCalls).toHaveLength(5);
  });

  it('retries a model that does not answer, then fails the job with llm_unavailable instead of hanging', async () => {
    override = () => ({ hang: true });
    const job = await analyse({ type: 'answer', question: 'How much is due?' });
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({
      code: 'llm_unavailable',
      message: expect.stringMatching(new RegExp(`timed out after ${LLM_TIMEOUT_MS} ms`)) as unknown,
    });
    expect(llm.chatCalls).toHaveLength(5);
  });
});
