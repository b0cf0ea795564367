import { MessageIds, type IngestDocumentCommand, type Topology } from '@quarry/contracts';
import { waitFor } from '@quarry/test-kit';
import { type NatsConnection } from '@nats-io/transport-node';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { CommandConsumer } from './command-consumer';
import { Outcome, type CommandHandler, type HandlerOutcome } from './handler';
import { provisionTestJetStream, TEST_CONSUMER_OPTIONS, type TestJetStream } from './__fixtures__/jetstream';
import { JetStreamPublisher } from './publisher';
import { markDocumentFailedInTrace, MessagingAttributes, withConsumerSpan } from './tracing';

const logger = pino({ level: 'silent' });
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('messaging spans on real JetStream', () => {
  let nc: NatsConnection;
  let jetStream: TestJetStream;
  let t: Topology;
  let publisher: JetStreamPublisher;
  let consumer: CommandConsumer<'ingestDocument'> | undefined;

  beforeEach(async () => {
    exporter.reset();
    jetStream = await provisionTestJetStream('tracing');
    ({ nc, t } = jetStream);
    publisher = new JetStreamPublisher(nc);
  });

  afterEach(async () => {
    await consumer?.stop(2000);
    consumer = undefined;
    await jetStream.remove();
  });

  it('makes each delivery a consumer span under the producer span, redeliveries included', async () => {
    const handledIn: { traceId: string; spanId: string }[] = [];
    const handler: CommandHandler<'ingestDocument'> = {
      handle: async (payload, ctx): Promise<HandlerOutcome> => {
        const active = trace.getActiveSpan()?.spanContext();
        if (active) handledIn.push({ traceId: active.traceId, spanId: active.spanId });
        if (ctx.deliveryCount === 1) {
          return Outcome.retry({ code: 'internal', message: 'first delivery fails', retryable: true });
        }
        // The next step, published from inside the handler, continues the same trace.
        await publisher.publish(t.commandSubject('indexDocument'), payload, {
          msgId: MessageIds.command('indexDocument', payload.jobId, payload.documentId),
          traceparent: ctx.traceparent,
        });
        return Outcome.ack();
      },
    };
    consumer = new CommandConsumer(
      'ingestDocument',
      nc,
      t,
      handler,
      publisher,
      TEST_CONSUMER_OPTIONS,
      logger,
    );
    await consumer.start();

    const cmd: IngestDocumentCommand = {
      v: 1,
      jobId: randomUUID(),
      tenantId: randomUUID(),
      documentId: randomUUID(),
    };
    const request = trace.getTracer('test').startSpan('POST /v1/documents', { kind: SpanKind.SERVER });
    await context.with(trace.setSpan(context.active(), request), () =>
      publisher.publish(t.commandSubject('ingestDocument'), cmd, {
        msgId: MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
      }),
    );
    request.end();

    await waitFor(() => consumer?.stats.acked === 1, { description: 'acked on the second delivery' });
    const spans = exporter.getFinishedSpans();
    const traceId = request.spanContext().traceId;
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));

    const publishIngest = spans.find((s) => s.name === `publish ${t.commandSubject('ingestDocument')}`);
    expect(publishIngest?.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(publishIngest!)).toBe(request.spanContext().spanId);
    expect(publishIngest?.attributes[MessagingAttributes.system]).toBe('nats');
    expect(publishIngest?.attributes[MessagingAttributes.messageId]).toBe(
      MessageIds.command('ingestDocument', cmd.jobId, cmd.documentId),
    );
    expect(publishIngest?.attributes[MessagingAttributes.jobId]).toBe(cmd.jobId);

    const deliveries = spans
      .filter((s) => s.name === `process ${t.commandSubject('ingestDocument')}`)
      .sort(
        (a, b) =>
          Number(a.attributes[MessagingAttributes.deliveryCount]) -
          Number(b.attributes[MessagingAttributes.deliveryCount]),
      );
    expect(deliveries.map((s) => s.attributes[MessagingAttributes.deliveryCount])).toEqual([1, 2]);
    for (const d of deliveries) {
      expect(d.kind).toBe(SpanKind.CONSUMER);
      expect(parentOf(d)).toBe(publishIngest?.spanContext().spanId);
      expect(d.attributes[MessagingAttributes.consumerGroup]).toBe(t.consumerName('ingestDocument'));
    }
    expect(deliveries.map((s) => s.attributes[MessagingAttributes.outcome])).toEqual(['retry', 'ack']);
    // The handler ran inside its delivery's span, so its logs and queries carry that span's ids.
    expect(handledIn.map((h) => h.spanId)).toEqual(deliveries.map((d) => d.spanContext().spanId));

    const publishIndex = spans.find((s) => s.name === `publish ${t.commandSubject('indexDocument')}`);
    expect(parentOf(publishIndex!)).toBe(deliveries[1]?.spanContext().spanId);
  });

  it('starts from the message traceparent when published outside any span (the outbox sweep)', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await publisher.publish(t.eventSubject('completed'), { v: 1 }, { msgId: randomUUID(), traceparent });
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(span!)).toBe('00f067aa0ba902b7');
  });

  it('marks the delivery failed when its document fails although the message is acked', async () => {
    await withConsumerSpan('qt.jobs.ingest', undefined, {}, () => {
      markDocumentFailedInTrace('corrupt_pdf', 'no PDF trailer');
      return Promise.resolve();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes[MessagingAttributes.errorCode]).toBe('corrupt_pdf');
    expect(span?.status).toEqual({ code: 2, message: 'no PDF trailer' });
  });
});
