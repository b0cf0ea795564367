import { PromText, waitFor } from '@quarry/testing';
import { GatewayHarness, type UploadBody } from '../testing/gateway-harness';

// The gateway's /metrics on the real gateway (PostgreSQL, NATS): no API key, the Prometheus content
// type, HTTP requests by route template, jobs accepted and cancelled, and the jobs stream's lag.

describe('GET /metrics on the gateway', () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await GatewayHarness.start('metrics');
  });
  afterAll(async () => {
    await h?.close();
  });

  const scrape = async () => {
    const res = await h.request('GET', '/metrics', { apiKey: null });
    expect(res.status).toBe(200);
    return PromText.parse(res.text);
  };

  it('answers without an API key, as Prometheus text', async () => {
    const res = await h.request('GET', '/metrics', { apiKey: null });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = PromText.parse(res.text);
    expect(text.select('quarry_build_info')[0]?.labels).toMatchObject({ app: 'gateway' });
    expect(text.has('quarry_process_resident_memory_bytes')).toBe(true);
  });

  it('counts requests by route template and status, never by raw URL', async () => {
    const id = '0194f3b0-0000-7000-8000-00000000abcd';
    await h.request('GET', `/v1/jobs/${id}`);
    await h.request('GET', `/v1/jobs/${id}`, { apiKey: null });
    await h.request('GET', `/no/such/${id}`, { apiKey: null });

    const text = await scrape();
    const route = { method: 'GET', route: '/v1/jobs/:id' };
    expect(text.sum('quarry_http_requests_total', { ...route, status: '404' })).toBe(1);
    expect(text.sum('quarry_http_requests_total', { ...route, status: '401' })).toBe(1);
    expect(text.sum('quarry_http_request_duration_seconds_count', route)).toBe(2);
    expect(text.sum('quarry_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    const routes = new Set(text.select('quarry_http_requests_total').map((s) => s.labels['route']));
    expect([...routes].filter((r) => r?.includes(id))).toEqual([]);
  });

  it('counts an accepted upload by type and lane, and its cancellation as a finished job', async () => {
    const before = await scrape();
    const upload = await h.upload<UploadBody>([{ filename: 'notes.txt', content: 'the quarry is deep' }]);
    expect(upload.status).toBe(202);
    // No worker runs here: the job stays queued until it is cancelled.
    expect((await h.request('POST', `/v1/jobs/${upload.body.id}/cancel`)).status).toBe(200);

    const after = await scrape();
    const created = { type: 'ingest', lane: 'interactive' };
    expect(
      after.sum('quarry_jobs_created_total', created) - before.sum('quarry_jobs_created_total', created),
    ).toBe(1);
    const cancelled = { type: 'ingest', status: 'cancelled' };
    expect(after.sum('quarry_jobs_finished_total', cancelled)).toBe(1);
    expect(after.sum('quarry_job_duration_seconds_count', cancelled)).toBe(1);
    expect(after.sum('quarry_outbox_published_total', { path: 'fast' })).toBeGreaterThanOrEqual(2);
  });

  it('reports the lag of every durable consumer of the jobs stream', async () => {
    const upload = await h.upload<UploadBody>([{ filename: 'a.txt', content: 'granite' }]);
    expect(upload.status).toBe(202);
    const ingest = {
      stream: h.ns.topology.jobsStream,
      consumer: h.ns.topology.consumerName('ingestDocument'),
    };
    // Both uploads' commands wait (nothing consumes here); the lag is cached for a moment between reads.
    const text = await waitFor(async () => {
      const t = await scrape();
      return t.sum('quarry_consumer_pending_messages', ingest) === 2 ? t : undefined;
    });
    expect(
      text.has('quarry_consumer_pending_messages', {
        consumer: h.ns.topology.consumerName('indexDocument', 'bulk'),
      }),
    ).toBe(true);
  });
});
