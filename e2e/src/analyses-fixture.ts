import { waitFor } from '@quarry/testing';
import type { JobBody, QuarryStack } from './stack';

// Five documents of clearly different kinds and five labels: the analyses e2e tests, offline and with a language model.

export const DOCS: Record<string, { label: string; text: string }> = {
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

export const LABELS = [
  { name: 'invoice', description: 'a bill asking for payment of an amount of money' },
  { name: 'recipe', description: 'cooking instructions with ingredients for a dish' },
  { name: 'sports', description: 'a report about a football game, players and goals' },
  { name: 'weather', description: 'a forecast of rain, wind, temperature and storms' },
  { name: 'programming', description: 'software code, functions and programming in Python' },
];

export interface AnalysisJob extends JobBody {
  result: Record<string, unknown> | null;
  input: Record<string, unknown>;
}

export interface Citation {
  documentId: string;
  filename: string;
  page: number;
  chunkId: string;
  quote: string;
}

/** Uploads the five documents and waits for them to be indexed: their ids by filename. */
export async function uploadFiveKinds(stack: QuarryStack): Promise<Record<string, string>> {
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
  return Object.fromEntries(job.documents.map((d) => [d.filename, d.id]));
}

/** Starts an analysis and waits for it to end. */
export async function analyse(stack: QuarryStack, body: unknown, timeoutMs = 60_000): Promise<AnalysisJob> {
  const res = await stack.request<AnalysisJob>('POST', '/v1/analyses', { json: body });
  expect(res.status).toBe(202);
  expect(res.body.status).toBe('queued');
  return waitFor(
    async () => {
      const r = await stack.request<AnalysisJob>('GET', `/v1/analyses/${res.body.id}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
    },
    { timeoutMs, intervalMs: 200, description: 'analysis ended' },
  );
}

/** Every citation quotes text that is in the chunk it names, on the page it names. */
export async function expectRealCitations(stack: QuarryStack, citations: Citation[]): Promise<void> {
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

/** The job of an upload that asked for `classify`: its status and its result in the classification service's shape. */
export interface ClassifiedUpload {
  status: string;
  result: {
    totalFiles: number;
    successful: number;
    failed: number;
    results: { filename: string; status: string; labels: string[]; error: unknown }[];
  };
}

/** Uploads the five documents again, named `<prefix><name>`, asking for the labels; waits for the job to end. */
export async function uploadAndClassify(stack: QuarryStack, prefix: string): Promise<ClassifiedUpload> {
  const form = new FormData();
  for (const [name, d] of Object.entries(DOCS))
    form.append('files', new Blob([d.text], { type: 'text/plain' }), `${prefix}${name}`);
  form.append('classify', JSON.stringify({ labels: LABELS }));
  const upload = await stack.request<{ id: string }>('POST', '/v1/documents', { form });
  expect(upload.status).toBe(202);
  await stack.waitForTerminal(upload.body.id);
  return (await stack.request<ClassifiedUpload>('GET', `/v1/jobs/${upload.body.id}`)).body;
}
