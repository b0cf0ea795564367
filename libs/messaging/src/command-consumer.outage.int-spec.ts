import { MessageIds, QuarryError, type IngestDocumentCommand, type Topology } from '@quarry/contracts';
import { waitFor } from '@quarry/test-kit';
import { jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { CommandConsumer } from './command-consumer';
import { Outcome, type CommandHandler, type DeliveryContext, type HandlerOutcome } from './handler';
import { provisionTestJetStream, TEST_CONSUMER_OPTIONS, type TestJetStream } from './__fixtures__/jetstream';
import { JetStreamPublisher } from './publisher';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

/** What the persistence layer's errors look like to the messaging layer: something it cannot classify. */
class DatabaseGone extends Error {}

class OutageHandler implements CommandHandler<'ingestDocument'> {
  readonly calls: { documentId: string; deliveryCount: number }[] = [];
  readonly deadLettered: string[] = [];
  constructor(private readonly script: (p: IngestDocumentCommand, call: number) => HandlerOutcome) {}
  handle(p: IngestDocumentCommand, ctx: DeliveryContext): Promise<HandlerOutcome> {
    this.calls.push({ documentId: p.documentId, deliveryCount: ctx.deliveryCount });
    const call = this.calls.filter((c) => c.documentId === p.documentId).length;
    // A throwing script rejects the promise, as an async handler's error would.
    return new Promise((resolve) => resolve(this.script(p, call)));
  }
  onDeadLetter(p: IngestDocumentCommand) {
    this.deadLettered.push(p.documentId);
    return Promise.resolve();
  }
}

describe('CommandConsumer through a dependency outage', () => {
  let nc: NatsConnection;
  let jetStream: TestJetStream;
  let t: Topology;
  let publisher: JetStreamPublisher;
  let consumer: CommandConsumer<'ingestDocument'> | undefined;

  beforeEach(async () => {
    jetStream = await provisionTestJetStream('outage', {
      duplicateWindowMs: 60_000,
      eventsMaxAgeMs: 60_000,
      dlqMaxAgeMs: 60_000,
    });
    ({ nc, t } = jetStream);
    publisher = new JetStreamPublisher(nc);
  });

  afterEach(async () => {
    await consumer?.stop(2000);
    consumer = undefined;
    await jetStream.remove();
  });

  const start = async (handler: OutageHandler, retryMaxDelayMs = 100) => {
    consumer = new CommandConsumer(
      'ingestDocument',
      nc,
      t,
      handler,
      publisher,
      {
        ...TEST_CONSUMER_OPTIONS,
        retryBaseDelayMs: 20,
        retryMaxDelayMs,
        isOutage: (error) =>
          error instanceof DatabaseGone ||
          (error instanceof QuarryError && error.code === 'dependency_unavailable'),
      },
      logger,
    );
    await consumer.start();
  };

  const send = async (): Promise<IngestDocumentCommand> => {
    const c: IngestDocumentCommand = {
      v: 1,
      jobId: randomUUID(),
      tenantId: randomUUID(),
      documentId: randomUUID(),
    };
    await publisher.publish(t.commandSubject('ingestDocument'), c, {
      msgId: MessageIds.command('ingestDocument', c.jobId, c.documentId),
    });
    return c;
  };

  it('holds the message through more failed attempts than it has deliveries, then succeeds on its first delivery', async () => {
    const handler = new OutageHandler((_p, call) => {
      // Six failures: twice the three deliveries a nak-per-failure would have allowed.
      if (call <= 3) throw new DatabaseGone('connect ECONNREFUSED');
      if (call <= 6) throw new QuarryError('dependency_unavailable', 'object store unavailable');
      return Outcome.ack();
    });
    // The hold lasts maxDeliver × retryMaxDelayMs = 3 s; the six backoffs take 0.6–1.3 s. (With 100 ms
    // the budget was 300 ms against 220–440 ms of jittered backoff: the test failed now and then.)
    await start(handler, 1000);
    const first = await send();
    const second = await send();

    await waitFor(() => handler.calls.some((c) => c.documentId === second.documentId), {
      timeoutMs: 10_000,
      description: 'second message handled',
    });
    const firstCalls = handler.calls.filter((c) => c.documentId === first.documentId);
    expect(firstCalls).toHaveLength(7);
    expect(firstCalls.every((c) => c.deliveryCount === 1)).toBe(true);
    // While the first was held, its slot stayed taken: nothing else was pulled.
    expect(handler.calls.findIndex((c) => c.documentId === second.documentId)).toBe(7);
    expect(handler.deadLettered).toEqual([]);
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.streams.info(t.jobsStream)).state.messages === 0, {
      description: 'both acknowledged',
    });
  });

  it('still naks and dead-letters a failure of the message itself', async () => {
    const handler = new OutageHandler(() => {
      throw new Error('parser exploded');
    });
    await start(handler);
    const c = await send();
    await waitFor(() => handler.deadLettered.includes(c.documentId), {
      timeoutMs: 10_000,
      description: 'dead-lettered',
    });
    expect(handler.calls.map((x) => x.deliveryCount)).toEqual([1, 2, 3]);
  });

  it('ends a hold at once when stopped, handing the message back', async () => {
    const handler = new OutageHandler(() => {
      throw new DatabaseGone('still down');
    });
    // A long backoff: stop() must not wait for it.
    await start(handler, 60_000);
    await send();
    await waitFor(() => handler.calls.length >= 2, { timeoutMs: 10_000, description: 'holding' });
    const started = Date.now();
    await consumer?.stop(5000);
    consumer = undefined;
    expect(Date.now() - started).toBeLessThan(2000);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(t.jobsStream, t.consumerName('ingestDocument'));
    // Back in the stream for the next replica, not acknowledged and not dead-lettered.
    expect(info.num_pending + info.num_ack_pending).toBe(1);
    expect(handler.deadLettered).toEqual([]);
  });
});
