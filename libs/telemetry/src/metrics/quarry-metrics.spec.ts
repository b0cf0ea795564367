import { PromText, REPO_ROOT } from '@quarry/test-kit';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { exportedSeriesNames, METRICS, PROCESS_METRICS_PREFIX } from './catalogue';
import { QUARRY_VERSION, QuarryMetrics } from './quarry-metrics';

const make = (options: Partial<ConstructorParameters<typeof QuarryMetrics>[0]> = {}) =>
  new QuarryMetrics({ app: 'ingest-worker', processMetrics: false, ...options });

const scrape = async (m: QuarryMetrics) => PromText.parse(await m.metrics());

describe('QuarryMetrics', () => {
  it('registers every catalogue metric with its kind, so a dashboard never queries a missing name', async () => {
    const text = await scrape(make());
    for (const [name, def] of Object.entries(METRICS))
      expect([name, text.types.get(name)]).toEqual([name, def.kind]);
  });

  it('exports the series the catalogue says it exports (histograms as _bucket, _sum, _count)', async () => {
    const m = make();
    m.histogram('quarry_step_duration_seconds').observe({ step: 'ingest', outcome: 'ack' }, 0.2);
    const names = new Set((await scrape(m)).samples.map((s) => s.name));
    for (const series of ['quarry_step_duration_seconds_bucket', 'quarry_step_duration_seconds_count']) {
      expect(exportedSeriesNames().has(series)).toBe(true);
      expect(names.has(series)).toBe(true);
    }
  });

  it('labels every series with its app and reports build info 1 with the version', async () => {
    const m = make({ app: 'analysis-worker' });
    m.counter('quarry_chunks_indexed_total').inc({ model: 'use-lite-512' }, 3);
    const text = await scrape(m);
    expect(text.select('quarry_build_info')).toEqual([
      { name: 'quarry_build_info', labels: { app: 'analysis-worker', version: QUARRY_VERSION }, value: 1 },
    ]);
    expect(text.select('quarry_chunks_indexed_total')).toEqual([
      {
        name: 'quarry_chunks_indexed_total',
        labels: { app: 'analysis-worker', model: 'use-lite-512' },
        value: 3,
      },
    ]);
  });

  it('keeps its version constant equal to the root package.json', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(QUARRY_VERSION).toBe(pkg.version);
  });

  it('keeps each instance on a registry of its own (two apps in one process do not collide)', async () => {
    const a = make({ app: 'gateway' });
    const b = make({ app: 'gateway' });
    a.counter('quarry_jobs_created_total').inc({ type: 'ingest', lane: 'interactive' });
    expect((await scrape(a)).sum('quarry_jobs_created_total')).toBe(1);
    expect((await scrape(b)).sum('quarry_jobs_created_total')).toBe(0);
  });

  it('counts a label-less counter and observes histograms into the catalogue buckets', async () => {
    const m = make({ app: 'gateway' });
    m.counter('quarry_stalled_jobs_redriven_total').inc({}, 2);
    m.histogram('quarry_http_request_duration_seconds').observe(
      { method: 'GET', route: '/v1/jobs/:id' },
      0.03,
    );
    const text = await scrape(m);
    expect(text.sum('quarry_stalled_jobs_redriven_total')).toBe(2);
    const route = { route: '/v1/jobs/:id' };
    expect(text.sum('quarry_http_request_duration_seconds_bucket', { ...route, le: '0.025' })).toBe(0);
    expect(text.sum('quarry_http_request_duration_seconds_bucket', { ...route, le: '0.05' })).toBe(1);
    expect(text.sum('quarry_http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(1);
  });

  it('counts a finished job and its duration from acceptance, and ignores "no job finished"', async () => {
    const m = make();
    const createdAt = new Date('2026-03-01T10:00:00Z');
    m.jobFinished(undefined);
    m.jobFinished({
      type: 'ingest',
      status: 'failed',
      createdAt,
      finishedAt: new Date(createdAt.getTime() + 42_000),
    });
    const text = await scrape(m);
    expect(text.sum('quarry_jobs_finished_total', { type: 'ingest', status: 'failed' })).toBe(1);
    expect(text.sum('quarry_job_duration_seconds_sum', { status: 'failed' })).toBe(42);
    expect(text.sum('quarry_jobs_finished_total')).toBe(1);
  });

  it('adds the Node.js process metrics under the quarry_ prefix', async () => {
    const text = await scrape(new QuarryMetrics({ app: 'gateway' }));
    expect(text.has(`${PROCESS_METRICS_PREFIX}process_cpu_user_seconds_total`, { app: 'gateway' })).toBe(
      true,
    );
    expect(text.has(`${PROCESS_METRICS_PREFIX}nodejs_heap_size_used_bytes`)).toBe(true);
  });

  it('runs collectors at scrape time, before rendering', async () => {
    const m = make();
    let reads = 0;
    m.addCollector('lag', () => {
      reads++;
      m.gauge('quarry_consumer_pending_messages').set(
        { stream: 'QUARRY_JOBS', consumer: 'quarry_ingest' },
        reads * 10,
      );
      return Promise.resolve();
    });
    expect((await scrape(m)).sum('quarry_consumer_pending_messages')).toBe(10);
    expect((await scrape(m)).sum('quarry_consumer_pending_messages')).toBe(20);
  });

  it('renders the rest of the scrape when a collector fails or hangs, and logs it', async () => {
    const lines: { msg: string; collector?: string }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as never) },
    );
    const m = make({ logger, collectTimeoutMs: 50 });
    m.addCollector('broken', () => Promise.reject(new Error('nats away')));
    m.addCollector('stuck', () => new Promise<void>(() => undefined));
    m.counter('quarry_outbox_published_total').inc({ path: 'fast' });

    const started = Date.now();
    const text = await scrape(m);

    expect(Date.now() - started).toBeLessThan(2000);
    expect(text.sum('quarry_outbox_published_total', { path: 'fast' })).toBe(1);
    expect(lines.map((l) => [l.collector, l.msg])).toEqual([
      ['broken', 'metrics collector failed'],
      ['stuck', 'metrics collector failed'],
    ]);
  });

  it('checks metric and label names at compile time (tsc), and prom-client rejects a stray label at run time', () => {
    // Never called: `tsc` fails if any of these lines compiles.
    const typeChecks = (m: QuarryMetrics) => {
      // @ts-expect-error: not a catalogue metric
      m.counter('quarry_nope_total');
      // @ts-expect-error: a gauge is not a counter
      m.counter('quarry_build_info');
      // @ts-expect-error: `lane` is missing
      m.counter('quarry_jobs_created_total').inc({ type: 'ingest' });
      // @ts-expect-error: `kind` is not a label of the metric
      m.counter('quarry_pages_extracted_total').inc({ type: 'pdf', kind: 'x' });
    };
    expect(typeChecks).toBeInstanceOf(Function);
    const pages = make().counter('quarry_pages_extracted_total');
    expect(() => pages.inc({ type: 'pdf', kind: 'x' } as never)).toThrow(/kind/);
  });
});
