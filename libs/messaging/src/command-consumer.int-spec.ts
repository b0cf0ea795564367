import {
  MessageIds,
  QuarryError,
  type ErrorInfo,
  type IngestDocumentCommand,
  type Topology,
} from '@quarry/contracts';
import { QuarryMetrics } from '@quarry/telemetry';
import { PromText, waitFor } from '@quarry/test-kit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { CommandConsumer } from './command-consumer';
import { Outcome, type CommandHandler, type DeliveryContext, type HandlerOutcome } from './handler';
import { QuarryHeaders } from './headers';
import { provisionTestJetStream, TEST_CONSUMER_OPTIONS, type TestJetStream } from './__fixtures__/jetstream';
import { JetStreamPublisher } from './publisher';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

function command(): IngestDocumentCommand {
  return { v: 1, jobId: randomUUID(), tenantId: randomUUID(), documentId: randomUUID() };
}

class ScriptedHandler implements CommandHandler<'ingestDocument'> {
  readonly seen: { payload: IngestDocumentCommand; ctx: DeliveryContext }[] = [];
  readonly deadLettered: { payload: IngestDocumentCommand; error: ErrorInfo }[] = [];
  running = 0;
  maxRunning = 0;
  constructor(
    private readonly script: (p: IngestDocumentCommand, ctx: DeliveryContext) => Promise<HandlerOutcome>,
  ) {}
  async handle(payload: IngestDocumentCommand, ctx: DeliveryContext) {
    this.seen.push({ payload, ctx });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      return await this.script(payload, ctx);
    } finally {
      this.running--;
    }
  }
  onDeadLetter(payload: IngestDocumentCommand, error: ErrorInfo) {
    this.deadLettered.push({ payload, error });
    return Promise.resolve();
  }
}

describe('CommandConsumer on real JetStream', () => {
  let ns: { nc: NatsConnection; topology: Topology };
  let jetStream: TestJetStream;
  let publisher: JetStreamPublisher;
  let consumer: CommandConsumer<'ingestDocument'> | undefined;
  let metrics: QuarryMetrics;
  const scrape = async () => PromText.parse(await metrics.metrics());

  beforeEach(async () => {
    jetStream = await provisionTestJetStream('consumer');
    ns = { nc: jetStream.nc, topology: jetStream.t };
    publisher = new JetStreamPublisher(ns.nc);
    metrics = new QuarryMetrics({ app: 'ingest-worker', processMetrics: false });
  });

  afterEach(async () => {
    await consumer?.stop(2000);
    consumer = undefined;
    await jetStream.remove();
  });

  const start = async (handler: ScriptedHandler, concurrency = 2, pullExpiresMs?: number) => {
    consumer = new CommandConsumer(
      'ingestDocument',
      ns.nc,
      ns.topology,
      handler,
      publisher,
      {
        ...TEST_CONSUMER_OPTIONS,
        concurrency,
        retryMaxDelayMs: 200,
        metrics,
        ...(pullExpiresMs ? { pullExpiresMs } : {}),
      },
      logger,
    );
    await consumer.start();
    return consumer;
  };

  const send = (c: IngestDocumentCommand) =>
    publisher.publish(ns.topology.commandSubject('ingestDocument'), c, {
      msgId: MessageIds.command('ingestDocument', c.jobId, c.documentId),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });

  it('acks handled messages, which a work-queue stream then removes', async () => {
    const handler = new ScriptedHandler(() => Promise.resolve(Outcome.ack()));
    await start(handler);
    for (let i = 0; i < 5; i++) await send(command());
    await waitFor(() => handler.seen.length === 5, { description: '5 handled' });
    const jsm = await jetstreamManager(ns.nc);
    await waitFor(async () => (await jsm.streams.info(ns.topology.jobsStream)).state.messages === 0, {
      description: 'stream empty',
    });
    expect(handler.seen[0]?.ctx.traceparent).toMatch(/^00-0af7/);
    expect(handler.seen.every((s) => s.ctx.deliveryCount === 1)).toBe(true);

    const scraped = await scrape();
    const labels = { step: 'ingest', lane: 'interactive' };
    expect(scraped.sum('quarry_messages_processed_total', { ...labels, outcome: 'ack' })).toBe(5);
    expect(scraped.sum('quarry_step_duration_seconds_count', { step: 'ingest', outcome: 'ack' })).toBe(5);
    expect(scraped.sum('quarry_redeliveries_total')).toBe(0);
  });

  it('drops a second publish with the same message id', async () => {
    const c = command();
    const first = await send(c);
    const second = await send(c);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    const handler = new ScriptedHandler(async () => {
      await new Promise((r) => setTimeout(r, 30));
      return Outcome.ack();
    });
    await start(handler, 3);
    for (let i = 0; i < 20; i++) await send(command());
    await waitFor(() => handler.seen.length >= 20, { description: '20 handled' });
    expect(handler.maxRunning).toBeLessThanOrEqual(3);
    expect(handler.maxRunning).toBeGreaterThan(1);
    expect(handler.seen.every((s) => s.ctx.deliveryCount === 1)).toBe(true);
  });

  it('retries transient failures with a delay, then succeeds', async () => {
    let calls = 0;
    const succeeding = new ScriptedHandler((_p, ctx) => {
      calls++;
      return Promise.resolve(
        ctx.deliveryCount < 2
          ? Outcome.retry({ code: 'dependency_unavailable', message: 'later' })
          : Outcome.ack(),
      );
    });
    await start(succeeding);
    await send(command());
    await waitFor(() => succeeding.seen.some((s) => s.ctx.deliveryCount === 2), {
      description: 'second delivery',
    });
    expect(calls).toBe(2);
    expect(succeeding.deadLettered).toHaveLength(0);

    // The outcome is counted right after the handler returns, so wait for it rather than race it.
    const labels = { step: 'ingest', lane: 'interactive' };
    await waitFor(
      async () => (await scrape()).sum('quarry_messages_processed_total', { outcome: 'ack' }) === 1,
    );
    const scraped = await scrape();
    expect(scraped.sum('quarry_messages_processed_total', { ...labels, outcome: 'retry' })).toBe(1);
    expect(scraped.sum('quarry_redeliveries_total', labels)).toBe(1);
  });

  it('dead-letters after the delivery limit with reason, origin and delivery count, and tells the handler', async () => {
    const handler = new ScriptedHandler(() =>
      Promise.reject(new QuarryError('dependency_unavailable', 'still down')),
    );
    await start(handler);
    const c = command();
    await send(c);
    await waitFor(() => handler.deadLettered.length === 1, { description: 'dead letter', timeoutMs: 10_000 });
    expect(handler.seen.map((s) => s.ctx.deliveryCount)).toEqual([1, 2, 3]);
    expect(handler.deadLettered[0]?.error.code).toBe('dependency_unavailable');

    const dlq = await jetstreamManager(ns.nc).then((m) =>
      m.streams.getMessage(ns.topology.dlqStream, { seq: 1 }),
    );
    expect(dlq?.subject).toBe(ns.topology.dlqSubject('ingestDocument'));
    expect(dlq?.header.get(QuarryHeaders.dlqReason)).toContain('still down');
    expect(dlq?.header.get(QuarryHeaders.originSubject)).toBe(ns.topology.commandSubject('ingestDocument'));
    expect(dlq?.header.get(QuarryHeaders.deliveryCount)).toBe('3');
    expect(dlq?.header.get(QuarryHeaders.traceparent)).toMatch(/^00-0af7/);
    expect(dlq?.json<IngestDocumentCommand>().documentId).toBe(c.documentId);

    await waitFor(async () => (await scrape()).sum('quarry_dead_letters_total') === 1);
    const scraped = await scrape();
    expect(scraped.sum('quarry_dead_letters_total', { step: 'ingest', code: 'dependency_unavailable' })).toBe(
      1,
    );
    expect(scraped.sum('quarry_messages_processed_total', { outcome: 'retry' })).toBe(2);
    expect(scraped.sum('quarry_messages_processed_total', { outcome: 'dead_letter' })).toBe(1);
    expect(scraped.sum('quarry_step_duration_seconds_count', { outcome: 'dead_letter' })).toBe(1);
    expect(scraped.sum('quarry_redeliveries_total', { step: 'ingest', lane: 'interactive' })).toBe(2);
  });

  it('dead-letters permanent errors at once and invalid messages without calling the handler', async () => {
    const handler = new ScriptedHandler(() => Promise.reject(new QuarryError('validation_failed', 'bad')));
    await start(handler);
    await send(command());
    await publisher.publish(
      ns.topology.commandSubject('ingestDocument'),
      { v: 99, nonsense: true },
      { msgId: 'bad-1' },
    );
    const jsm = await jetstreamManager(ns.nc);
    await waitFor(async () => (await jsm.streams.info(ns.topology.dlqStream)).state.messages === 2, {
      description: 'two dead letters',
    });
    expect(handler.seen).toHaveLength(1);
    expect(handler.deadLettered).toHaveLength(1);
  });

  it('dead-letters a message whose handler never returned on any allowed delivery', async () => {
    // Simulates a worker that died holding the message on every allowed delivery: each delivery is
    // pulled and abandoned without an ack, as a crashed process would, until ack_wait expires.
    const c = command();
    await send(c);
    const deliveries: number[] = [];
    const raw = await jetstream(ns.nc).consumers.get(
      ns.topology.jobsStream,
      ns.topology.consumerName('ingestDocument'),
    );
    for (let i = 0; i < 3; i++) {
      const m = await raw.next({ expires: 5000 });
      expect(m).not.toBeNull();
      deliveries.push(m!.info.deliveryCount); // abandoned: no ack, as a crashed worker would
    }
    expect(deliveries).toEqual([1, 2, 3]);
    const survivor = new ScriptedHandler(() => Promise.resolve(Outcome.ack()));
    await start(survivor);
    await waitFor(() => survivor.deadLettered.length === 1, {
      description: 'dead letter on delivery 4',
      timeoutMs: 10_000,
    });
    expect(survivor.seen).toHaveLength(0);
    expect(survivor.deadLettered[0]?.error.code).toBe('delivery_exhausted');
  });

  it('on shutdown, requeues a message on its last delivery instead of dead-lettering it', async () => {
    const c = command();
    await send(c);
    // Use up the first two deliveries, as crashed workers would.
    const raw = await jetstream(ns.nc).consumers.get(
      ns.topology.jobsStream,
      ns.topology.consumerName('ingestDocument'),
    );
    for (let i = 0; i < 2; i++) expect(await raw.next({ expires: 5000 })).not.toBeNull();

    // The third (last) delivery is held by a handler that only stops when the worker shuts down.
    const handler = new ScriptedHandler(
      (_p, ctx) =>
        new Promise<HandlerOutcome>((resolve) =>
          ctx.signal.addEventListener('abort', () =>
            resolve(Outcome.retry({ code: 'dependency_unavailable', message: 'shutting down' })),
          ),
        ),
    );
    // One pull that outlives the redelivery: a delivery that lands on a pull expiring at that moment counts as made
    // (JetStream's behaviour), and here it would spend the last delivery the test is about (a CI flake).
    const stopping = await start(handler, 1, 15_000);
    await waitFor(() => handler.seen.length === 1, { description: 'last delivery held', timeoutMs: 10_000 });
    expect(handler.seen[0]?.ctx.deliveryCount).toBe(3);
    await stopping.stop(100);
    consumer = undefined;

    const jsm = await jetstreamManager(ns.nc);
    expect((await jsm.streams.info(ns.topology.dlqStream)).state.messages).toBe(0);
    // The copy starts its delivery count afresh.
    const again = await raw.next({ expires: 5000 });
    expect(again?.info.deliveryCount).toBe(1);
    expect(again?.json<IngestDocumentCommand>().documentId).toBe(c.documentId);
    expect(again?.headers?.get('Nats-Msg-Id')).toMatch(/:requeued:3$/);
    again?.ack();
  });
});
