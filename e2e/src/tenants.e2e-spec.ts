import { QuarryEvent } from '@quarry/contracts';
import { readSse, waitFor } from '@quarry/testing';
import { QuarryStack } from './stack';

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Tenants share the workers fairly, and a client follows a job live (issue 11). The apps run as processes with one
 * slot per consumer, so the order of work is all the fair share decides.
 */
describe('tenants share the workers fairly; live job streams', () => {
  let stack: QuarryStack;

  beforeAll(async () => {
    stack = await QuarryStack.start(
      'tenants',
      {
        MAX_FILES_PER_UPLOAD: '300',
        BULK_THRESHOLD_DOCUMENTS: '1000',
        INGEST_CONCURRENCY: '1',
        ANALYSIS_CONCURRENCY: '1',
        INGEST_BULK_CONCURRENCY: '1',
        ANALYSIS_BULK_CONCURRENCY: '1',
        TENANT_FAIR_LOOKAHEAD: '500',
      },
      { maxAckPending: 1024 },
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("finishes tenant B's one document before tenant A's 300-document batch is a third done", async () => {
    const b = await stack.createTenant('tenant-b');
    const files = Array.from({ length: 300 }, (_, i) => ({
      name: `a-${i}.txt`,
      bytes: text(`Tenant A record ${i}: pallet ${i % 13} in bay ${i % 7}, weighed on Tuesday.\n`),
      type: 'text/plain',
    }));
    const batch = await stack.upload(files);
    expect(batch.status).toBe(202);
    // Same lane as B's upload: the fair share, not the lanes, keeps B from waiting behind the batch.
    expect((batch.body as unknown as { lane: string }).lane).toBe('interactive');
    await waitFor(async () => (await stack.job(batch.body.id)).status === 'running', {
      description: "A's batch running",
    });

    const single = await stack.request<{ id: string }>('POST', '/v1/documents', {
      form: form([{ name: 'b.txt', bytes: text('Tenant B: the quarterly report is due on Friday.\n') }]),
      headers: { authorization: `Bearer ${b.apiKey}` },
      auth: false,
    });
    expect(single.status).toBe(202);
    const done = await waitFor(
      async () => {
        const r = await stack.request<{ status: string }>('GET', `/v1/jobs/${single.body.id}`, {
          headers: { authorization: `Bearer ${b.apiKey}` },
          auth: false,
        });
        return r.body.status === 'succeeded' ? r.body : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100, description: "B's job done" },
    );
    expect(done.status).toBe('succeeded');
    const a = await stack.job(batch.body.id);
    const indexed = a.documents.filter((d) => d.status === 'indexed').length;
    expect(indexed).toBeLessThan(100);

    const aDone = await stack.waitForTerminal(batch.body.id, 300_000);
    expect(aDone.status).toBe('succeeded');
  }, 420_000);

  it('streams a real job from upload to its end; a reconnect with Last-Event-ID misses and repeats nothing', async () => {
    const up = await stack.upload([
      {
        name: 'one.txt',
        bytes: text('Lighthouses guide ships past the reef at night.\n'),
        type: 'text/plain',
      },
      { name: 'two.txt', bytes: text('Tides rise twice a day along this coast.\n'), type: 'text/plain' },
    ]);
    expect(up.status).toBe(202);
    const url = `${stack.baseUrl}/v1/jobs/${up.body.id}/events`;
    const auth = { authorization: `Bearer ${stack.apiKey}` };
    // Hang up after the third event, then come back with its id.
    const first = await readSse(url, {
      headers: auth,
      stopAfter: (_, all) => all.length === 3,
      timeoutMs: 60_000,
    });
    const rest = await readSse(url, {
      headers: { ...auth, 'last-event-id': first.events.at(-1)?.id ?? '' },
      timeoutMs: 60_000,
    });
    expect(rest.endedByServer).toBe(true);
    const joined = [...first.events, ...rest.events];
    const whole = await readSse(url, { headers: auth, timeoutMs: 60_000 });
    expect(joined.map((e) => `${e.id} ${e.event}`)).toEqual(whole.events.map((e) => `${e.id} ${e.event}`));
    const types = joined.map((e) => e.event);
    expect(types[0]).toBe('job.queued');
    expect(types.at(-1)).toBe('job.succeeded');
    expect(types.filter((t) => t === 'document.indexed')).toHaveLength(2);
    for (const e of joined) expect(QuarryEvent.parse(JSON.parse(e.data)).type).toBe(e.event);
  }, 120_000);
});

function form(files: { name: string; bytes: Uint8Array }[]): FormData {
  const f = new FormData();
  for (const file of files)
    f.append('files', new Blob([Buffer.from(file.bytes)], { type: 'text/plain' }), file.name);
  return f;
}
