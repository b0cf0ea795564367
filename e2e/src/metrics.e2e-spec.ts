import { freePort, makeTestPdf, PromText, waitFor } from '@quarry/testing';
import { QuarryStack } from './stack';

// /metrics of each of the three built apps, scraped over HTTP before and after one job: the counters
// of every step the job passed through moved. Workers serve /metrics (and their probes) on a port of
// their own (METRICS_PORT); the gateway on its API port.

describe('metrics of every app after a job', () => {
  let stack: QuarryStack;
  const ports = { ingest: 0, analysis: 0 };

  beforeAll(async () => {
    ports.ingest = await freePort();
    ports.analysis = await freePort();
    stack = await QuarryStack.start(
      'metrics',
      {},
      {
        appEnv: {
          'ingest-worker': { METRICS_PORT: String(ports.ingest) },
          'analysis-worker': { METRICS_PORT: String(ports.analysis) },
        },
      },
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const url = {
    gateway: () => `${stack.baseUrl}/metrics`,
    ingest: () => `http://127.0.0.1:${ports.ingest}/metrics`,
    analysis: () => `http://127.0.0.1:${ports.analysis}/metrics`,
  };

  async function scrape(metricsUrl: string): Promise<PromText> {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return PromText.parse(await response.text());
  }

  it('answers the probes of a worker on its metrics port', async () => {
    for (const port of [ports.ingest, ports.analysis]) {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // Ready once Nest has started and NATS answers; the stack waited for the consumers to pull.
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { app: 'ok', nats: 'ok' } });
    }
  });

  it('moves the counters of the gateway and both workers for one upload that succeeds', async () => {
    const before = {
      gateway: await scrape(url.gateway()),
      ingest: await scrape(url.ingest()),
      analysis: await scrape(url.analysis()),
    };
    for (const [app, text] of [
      ['gateway', before.gateway],
      ['ingest-worker', before.ingest],
      ['analysis-worker', before.analysis],
    ] as const) {
      expect(text.select('quarry_build_info').map((s) => s.labels['app'])).toEqual([app]);
    }

    const pdf = await makeTestPdf([
      ['Survey of the north quarry', '', 'Granite was found below two metres of clay.'],
      ['Second page', '', 'The dolerite dyke runs east to west across the pit floor.'],
    ]);
    const upload = await stack.upload([{ name: 'survey.pdf', bytes: pdf, type: 'application/pdf' }]);
    expect(upload.status).toBe(202);
    expect((await stack.waitForTerminal(upload.body.id)).status).toBe('succeeded');
    const search = await stack.request('POST', '/v1/search', { json: { query: 'dolerite dyke', topK: 3 } });
    expect(search.status).toBe(200);

    // A worker counts right after it commits and acks, a moment after the job shows `succeeded`.
    const moved = (a: PromText, b: PromText, name: string, labels: Record<string, string> = {}) =>
      b.sum(name, labels) - a.sum(name, labels);
    const acked = (metricsUrl: string, earlier: PromText, app: string) =>
      waitFor(
        async () => {
          const text = await scrape(metricsUrl);
          return moved(earlier, text, 'quarry_messages_processed_total', { outcome: 'ack' }) >= 1
            ? text
            : undefined;
        },
        { description: `${app} counted its ack` },
      );
    const after = {
      gateway: await scrape(url.gateway()),
      ingest: await acked(url.ingest(), before.ingest, 'the ingest worker'),
      analysis: await acked(url.analysis(), before.analysis, 'the analysis worker'),
    };

    // Gateway: the job accepted, the HTTP request by its route template.
    const g = (name: string, labels?: Record<string, string>) =>
      moved(before.gateway, after.gateway, name, labels);
    expect(g('quarry_jobs_created_total', { type: 'ingest', lane: 'interactive' })).toBe(1);
    expect(g('quarry_http_requests_total', { method: 'POST', route: '/v1/documents', status: '202' })).toBe(
      1,
    );
    expect(
      g('quarry_http_request_duration_seconds_count', { method: 'GET', route: '/v1/jobs/:id' }),
    ).toBeGreaterThan(0);
    expect(g('quarry_outbox_published_total', { path: 'fast' })).toBeGreaterThanOrEqual(1);
    expect(
      after.gateway.has('quarry_consumer_pending_messages', {
        consumer: stack.ns.topology.consumerName('indexDocument'),
      }),
    ).toBe(true);

    // Ingest worker: one delivery acked and timed, two pages extracted from the PDF.
    const i = (name: string, labels?: Record<string, string>) =>
      moved(before.ingest, after.ingest, name, labels);
    expect(
      i('quarry_messages_processed_total', { step: 'ingest', lane: 'interactive', outcome: 'ack' }),
    ).toBe(1);
    expect(i('quarry_step_duration_seconds_count', { step: 'ingest', outcome: 'ack' })).toBe(1);
    expect(i('quarry_pages_extracted_total', { type: 'pdf' })).toBe(2);
    expect(i('quarry_extraction_duration_seconds_count', { type: 'pdf' })).toBe(1);
    expect(i('quarry_documents_processed_total', { step: 'ingest', result: 'succeeded' })).toBe(1);
    expect(i('quarry_redeliveries_total')).toBe(0);
    expect(
      after.ingest.sum('quarry_consumer_pending_messages', {
        consumer: stack.ns.topology.consumerName('ingestDocument'),
      }),
    ).toBe(0);

    // Analysis worker: chunks embedded and stored, the job finished here, the search answered.
    const a = (name: string, labels?: Record<string, string>) =>
      moved(before.analysis, after.analysis, name, labels);
    expect(a('quarry_messages_processed_total', { step: 'index', lane: 'interactive', outcome: 'ack' })).toBe(
      1,
    );
    expect(a('quarry_chunks_indexed_total')).toBeGreaterThanOrEqual(1);
    expect(a('quarry_embedding_duration_seconds_count', { provider: 'local' })).toBeGreaterThanOrEqual(1);
    expect(a('quarry_jobs_finished_total', { type: 'ingest', status: 'succeeded' })).toBe(1);
    expect(a('quarry_job_duration_seconds_count', { type: 'ingest', status: 'succeeded' })).toBe(1);
    expect(a('quarry_search_duration_seconds_count', { result: 'ok' })).toBe(1);
  });
});
