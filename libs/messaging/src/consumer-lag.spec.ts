import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/test-kit';
import pino from 'pino';
import { collectConsumerLag, ConsumerLagReader, type ConsumerLag } from './consumer-lag';

// The scrape-time collector with a scripted reader; the reader's own caching with a fake clock and a
// JetStream manager that is never reached (the cache answers). Against real NATS: consumer-lag.int-spec.

const lag = (consumer: string, pending: number): ConsumerLag => ({
  stream: 'QUARRY_JOBS',
  consumer,
  pending,
  ackPending: 1,
  redelivered: 0,
  pullsWaiting: 0,
  lastActiveAt: null,
});

function setup(read: () => Promise<ConsumerLag[]>) {
  const lines: { msg: string; level: string }[] = [];
  const logger = pino(
    { level: 'info', formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => void lines.push(JSON.parse(line) as never) },
  );
  const metrics = new QuarryMetrics({ app: 'gateway', processMetrics: false });
  collectConsumerLag(metrics, { read }, logger);
  const scrape = async () => PromText.parse(await metrics.metrics());
  return { lines, scrape };
}

describe('collectConsumerLag', () => {
  it('sets the three gauges per consumer from what the reader returns at scrape time', async () => {
    let lags = [lag('quarry_ingest', 5), lag('quarry_ingest_bulk', 0)];
    const t = setup(() => Promise.resolve(lags));

    const first = await t.scrape();
    expect(first.sum('quarry_consumer_pending_messages', { consumer: 'quarry_ingest' })).toBe(5);
    expect(first.sum('quarry_consumer_ack_pending_messages', { consumer: 'quarry_ingest_bulk' })).toBe(1);
    expect(first.has('quarry_consumer_redelivered_messages', { stream: 'QUARRY_JOBS' })).toBe(true);

    // A consumer that disappeared is gone from the next scrape, not frozen at its last value.
    lags = [lag('quarry_ingest', 2)];
    const second = await t.scrape();
    expect(
      second.select('quarry_consumer_pending_messages').map((s) => [s.labels['consumer'], s.value]),
    ).toEqual([['quarry_ingest', 2]]);
  });

  it('omits the series while JetStream cannot be read, logs once, and says when it recovers', async () => {
    let up = true;
    const t = setup(() =>
      up ? Promise.resolve([lag('quarry_index', 3)]) : Promise.reject(new Error('timeout')),
    );
    expect((await t.scrape()).has('quarry_consumer_pending_messages')).toBe(true);

    up = false;
    const during = await t.scrape();
    await t.scrape();
    expect(during.has('quarry_consumer_pending_messages')).toBe(false);
    expect(during.has('quarry_build_info')).toBe(true);

    up = true;
    expect((await t.scrape()).sum('quarry_consumer_pending_messages')).toBe(3);
    expect(t.lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'cannot read consumer lag from JetStream; series omitted'],
      ['info', 'consumer lag readable again'],
    ]);
  });
});

describe('ConsumerLagReader', () => {
  it('answers a burst of reads with one request and reuses it for cacheMs', async () => {
    let now = 1000;
    let requests = 0;
    let release: (lags: ConsumerLag[]) => void = () => undefined;
    const reader = new ConsumerLagReader(
      () => {
        requests++;
        return new Promise((resolve) => (release = resolve));
      },
      { cacheMs: 2000 },
      () => now,
    );

    const burst = Promise.all([reader.read(), reader.read(), reader.read()]);
    release([lag('c', 1)]);
    expect((await burst).map((l) => l[0]?.pending)).toEqual([1, 1, 1]);
    expect(requests).toBe(1);

    now += 1999;
    await reader.read();
    expect(requests).toBe(1);

    now += 1;
    const next = reader.read();
    release([lag('c', 4)]);
    expect((await next)[0]?.pending).toBe(4);
    expect(requests).toBe(2);
  });

  it('gives up on a source that does not answer within timeoutMs, and does not cache the failure', async () => {
    let requests = 0;
    const reader = new ConsumerLagReader(
      () => (++requests === 1 ? new Promise<never>(() => undefined) : Promise.resolve([lag('c', 9)])),
      { timeoutMs: 30 },
    );
    await expect(reader.read()).rejects.toThrow('JetStream did not answer within 30 ms');
    expect((await reader.read())[0]?.pending).toBe(9);
    expect(requests).toBe(2);
  });
});
