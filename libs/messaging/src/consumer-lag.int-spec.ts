import { MessageIds, type CommandName, type Lane, type Topology } from '@quarry/contracts';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText, TEST_NATS_URL, waitFor } from '@quarry/test-kit';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { collectConsumerLag, ConsumerLagReader, jetStreamConsumerLag } from './consumer-lag';
import { provisionTestJetStream, type TestJetStream } from './__fixtures__/jetstream';
import { JetStreamPublisher } from './publisher';

// Consumer lag read from the real JetStream, in a namespace of its own: commands published and not
// consumed are the consumers' pending count.

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

let nc: NatsConnection;

let jetStream: TestJetStream;
let t: Topology;

beforeAll(async () => {
  jetStream = await provisionTestJetStream('lag', { ackWaitMs: 30_000 });
  ({ nc, t } = jetStream);
  const publisher = new JetStreamPublisher(nc);
  const send = async (name: CommandName, lane: Lane, n: number) => {
    for (let i = 0; i < n; i++) {
      const c = { v: 1, jobId: randomUUID(), tenantId: randomUUID(), documentId: randomUUID(), lane };
      await publisher.publish(t.commandSubject(name, lane), c, {
        msgId: MessageIds.command(name, c.jobId, c.documentId),
      });
    }
  };
  await send('ingestDocument', 'interactive', 3);
  await send('ingestDocument', 'bulk', 2);
  await send('indexDocument', 'interactive', 1);
});

afterAll(async () => {
  await jetStream.remove();
});

function scraper(source: ReturnType<typeof jetStreamConsumerLag>) {
  const metrics = new QuarryMetrics({ app: 'ingest-worker', processMetrics: false });
  collectConsumerLag(metrics, new ConsumerLagReader(source, { cacheMs: 0 }), logger);
  return async () => PromText.parse(await metrics.metrics());
}

describe('consumer lag from JetStream', () => {
  it('reports the pending count of a worker’s own consumers, both lanes, and nothing else', async () => {
    const own = [t.consumerName('ingestDocument', 'interactive'), t.consumerName('ingestDocument', 'bulk')];
    const scrape = scraper(jetStreamConsumerLag(nc, { stream: t.jobsStream, consumers: own }));

    const text = await scrape();
    const pending = text.select('quarry_consumer_pending_messages');
    expect(pending.map((s) => [s.labels['stream'], s.labels['consumer'], s.value])).toEqual([
      [t.jobsStream, own[0], 3],
      [t.jobsStream, own[1], 2],
    ]);
    expect(text.sum('quarry_consumer_ack_pending_messages')).toBe(0);
  });

  it('reports every durable consumer of the stream for the gateway, and ack-pending once pulled', async () => {
    const scrape = scraper(jetStreamConsumerLag(nc, { stream: t.jobsStream }));
    const index = t.consumerName('indexDocument', 'interactive');

    const before = await scrape();
    expect(
      before
        .select('quarry_consumer_pending_messages')
        .map((s) => s.labels['consumer'])
        .sort(),
    ).toEqual(
      [
        t.consumerName('indexDocument', 'bulk'),
        index,
        t.consumerName('ingestDocument', 'bulk'),
        t.consumerName('ingestDocument', 'interactive'),
        t.consumerName('analyzeJob', 'bulk'),
        t.consumerName('analyzeJob', 'interactive'),
      ].sort(),
    );
    expect(before.sum('quarry_consumer_pending_messages', { consumer: index })).toBe(1);

    // Pulled and not acknowledged: no longer pending, but ack-pending.
    const consumer = await jetstream(nc).consumers.get(t.jobsStream, index);
    const msg = await consumer.next({ expires: 2000 });
    expect(msg).not.toBeNull();
    const after = await scrape();
    expect(after.sum('quarry_consumer_pending_messages', { consumer: index })).toBe(0);
    expect(after.sum('quarry_consumer_ack_pending_messages', { consumer: index })).toBe(1);
    msg?.nak();
  });

  it('tells a consumer with a pull waiting, and when it last delivered, from one nobody pulls from (ADR 33)', async () => {
    const bulk = t.consumerName('analyzeJob', 'bulk');
    const read = jetStreamConsumerLag(nc, { stream: t.jobsStream, consumers: [bulk] });
    expect(await read()).toEqual([
      expect.objectContaining({ consumer: bulk, pullsWaiting: 0, lastActiveAt: null }),
    ]);

    // An idle worker's pull, waiting for a message that does not come.
    const consumer = await jetstream(nc).consumers.get(t.jobsStream, bulk);
    const pull = consumer.next({ expires: 3000 });
    const waiting = await waitFor(async () => ((await read())[0]?.pullsWaiting ?? 0) > 0, {
      description: 'the pull to be seen waiting',
    });
    expect(waiting).toBe(true);
    expect(await pull).toBeNull();
    await waitFor(async () => (await read())[0]?.pullsWaiting === 0, { description: 'the pull to expire' });

    // A delivery dates the consumer's last activity.
    const ingest = t.consumerName('ingestDocument', 'interactive');
    const before = Date.now();
    const msg = await (await jetstream(nc).consumers.get(t.jobsStream, ingest)).next({ expires: 2000 });
    expect(msg).not.toBeNull();
    const [lag] = await jetStreamConsumerLag(nc, { stream: t.jobsStream, consumers: [ingest] })();
    expect(lag?.lastActiveAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    msg?.nak();
  });

  it('keeps /metrics answering when NATS is gone, without the lag series', async () => {
    const gone = await connect({ servers: TEST_NATS_URL });
    await gone.close();
    const scrape = scraper(jetStreamConsumerLag(gone, { stream: t.jobsStream, timeoutMs: 500 }));

    const started = Date.now();
    const text = await scrape();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(text.has('quarry_build_info')).toBe(true);
    expect(text.has('quarry_consumer_pending_messages')).toBe(false);
  });
});
