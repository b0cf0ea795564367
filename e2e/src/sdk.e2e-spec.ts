import { QuarryApiError, QuarryClient, type JobProgress } from '@quarry/sdk';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QuarryStack } from './stack';

/**
 * The SDK against the running stack, as a user's program drives it: an upload that waits with progress, a search,
 * a job's events across a connection that breaks mid-stream, and a typed error (issue 12).
 */
describe('@quarry/sdk against the stack', () => {
  let stack: QuarryStack;
  let client: QuarryClient;
  let dir: string;

  beforeAll(async () => {
    stack = await QuarryStack.start('sdk');
    client = new QuarryClient({ baseUrl: stack.baseUrl, apiKey: stack.apiKey });
    dir = mkdtempSync(path.join(tmpdir(), 'quarry-sdk-'));
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('uploads files from paths and bytes, reports progress, and resolves with the finished job', async () => {
    const file = path.join(dir, 'lighthouse.txt');
    writeFileSync(file, 'The lighthouse keeper logs every ship that passes the northern reef.\n');
    const seen: JobProgress[] = [];
    const job = await client.uploadFiles(
      [
        file,
        { name: 'tides.txt', data: new TextEncoder().encode('Spring tides rise highest at new moon.\n') },
      ],
      { tags: ['sea'], metadata: { source: 'sdk-test' }, onProgress: (p) => seen.push(p) },
    );
    expect(job.status).toBe('succeeded');
    expect(job.documents.map((d) => d.filename).sort()).toEqual(['lighthouse.txt', 'tides.txt']);
    const last = seen.at(-1) as JobProgress;
    expect(last.status).toBe('succeeded');
    expect(last.total).toBe(2);
    expect(last.finished).toBe(2);
    // Progress arrived step by step, not only at the end.
    expect(new Set(seen.map((p) => p.finished)).size).toBeGreaterThan(1);

    // The generated half: every route typed from the OpenAPI document.
    const typed = await client.api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } });
    expect(typed.data?.status).toBe('succeeded');
    expect(typed.data?.documents).toHaveLength(2);

    const found = await client.search<{ results: { filename: string }[] }>({
      query: 'lighthouse keeper reef',
      filter: { tags: ['sea'] },
    });
    expect(found.results[0]?.filename).toBe('lighthouse.txt');
  });

  it("reads a job's events across a connection that breaks mid-stream, missing and repeating nothing", async () => {
    const accepted = await client.uploadFiles(
      [{ name: 'a.txt', data: new TextEncoder().encode('anchor chain\n') }],
      {
        wait: false,
      },
    );
    const whole = [];
    for await (const e of client.jobEvents(accepted.id)) whole.push(`${e.eventId} ${e.type}`);

    // A fetch whose first event stream breaks after two events: the SDK must reconnect with Last-Event-ID.
    let streams = 0;
    const breaking = new QuarryClient({
      baseUrl: stack.baseUrl,
      apiKey: stack.apiKey,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.url.endsWith('/events') || streams++ > 0 || !response.body) return response;
        return new Response(cutAfterEvents(response.body, 2), {
          status: response.status,
          headers: response.headers,
        });
      },
    });
    const resumed = [];
    for await (const e of breaking.jobEvents(accepted.id)) resumed.push(`${e.eventId} ${e.type}`);
    expect(streams).toBeGreaterThan(1);
    expect(resumed).toEqual(whole);
    expect(whole.at(-1)).toMatch(/ job\.succeeded$/);
  });

  it('throws a typed error with the API code for a job that does not exist', async () => {
    const error = await client.getJob('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuarryApiError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    const denied = await new QuarryClient({ baseUrl: stack.baseUrl, apiKey: 'not-a-key-at-all' })
      .listJobs()
      .catch((e: unknown) => e);
    expect(denied).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

/** Passes a body through until `n` events have gone by, then breaks it like a dropped connection mid-chunk. */
function cutAfterEvents(body: ReadableStream<Uint8Array>, n: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let text = '';
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      text += decoder.decode(value, { stream: true });
      // Where the n-th event ends, if it has arrived: everything after it is lost with the connection.
      let end = -1;
      let events = 0;
      for (let at = 0; events < n;) {
        const next = text.indexOf('\n\n', at);
        if (next === -1) break;
        if (text.slice(at, next).includes('data: ')) events++;
        at = next + 2;
        if (events === n) end = at;
      }
      if (end === -1) {
        controller.enqueue(encoder.encode(text.slice(sent)));
        sent = text.length;
        return;
      }
      controller.enqueue(encoder.encode(text.slice(sent, end)));
      await reader.cancel();
      controller.error(new TypeError('terminated'));
    },
  });
}
