import { freePort, waitFor } from '@quarry/testing';
import { SpanKind } from '@opentelemetry/api';
import { FAKE_EMBEDDING_DIM, FAKE_EMBEDDING_MODEL, FakeEmbeddingServer } from '../chaos/fake-embeddings';
import { QuarryStack } from '../stack';
import type { ExportedSpan } from './one-process-harness';

/**
 * One upload is one trace: the gateway's HTTP request, the publish and process spans of the ingest
 * and index steps, the database spans, and the completion event, all joined parent to child. The
 * embedding server fails once, so the index command is delivered twice: two process spans in the
 * same trace, the second with delivery count 2.
 */
describe('one job, one trace (in-memory exporter)', () => {
  let stack: QuarryStack;
  let embeddings: FakeEmbeddingServer;
  let spansPort: number;

  beforeAll(async () => {
    embeddings = await FakeEmbeddingServer.start();
    spansPort = await freePort();
    stack = await QuarryStack.start(
      'trace',
      {
        EMBEDDING_PROVIDER: 'openai',
        OPENAI_BASE_URL: embeddings.baseUrl,
        EMBEDDING_MODEL: FAKE_EMBEDDING_MODEL,
        EMBEDDING_DIM: String(FAKE_EMBEDDING_DIM),
        METRICS_PORT: '0',
      },
      { oneProcess: { entry: 'dist/e2e/src/tracing/one-process-harness.js', args: [String(spansPort)] } },
    );
  });

  afterAll(async () => {
    await stack?.stop();
    await embeddings?.close();
  });

  const spansOf = async (traceId: string): Promise<ExportedSpan[]> => {
    const all = (await (await fetch(`http://127.0.0.1:${spansPort}/spans`)).json()) as ExportedSpan[];
    return all.filter((s) => s.traceId === traceId);
  };

  it('follows an upload from the HTTP request to the completion event, redelivery included', async () => {
    embeddings.failNext = 1;
    const upload = await stack.upload([
      {
        name: 'notes.txt',
        bytes: Buffer.from('Quarry keeps one trace per job.\n\nThe index step is retried once.'),
      },
    ]);
    expect(upload.status).toBe(202);
    const job = await stack.waitForTerminal(upload.body.id);
    expect(job.status).toBe('succeeded');
    expect(job.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(embeddings.failures).toBe(1);

    const ns = stack.ns.topology;
    const completed = `publish ${ns.eventSubject('completed')}`;
    // Spans are exported as they end; the last ones end just after the job turned terminal.
    const spans = await waitFor(
      async () => {
        const found = await spansOf(job.traceId as string);
        const ids = new Set(found.map((s) => s.spanId));
        const whole = found.every((s) => s.parentSpanId === undefined || ids.has(s.parentSpanId));
        return whole && found.some((s) => s.name === completed) ? found : undefined;
      },
      { timeoutMs: 15_000, description: 'the whole trace exported' },
    );

    // A single tree: one root, the HTTP request that accepted the upload.
    const roots = spans.filter((s) => s.parentSpanId === undefined);
    expect(roots).toHaveLength(1);
    expect(roots[0]?.kind).toBe(SpanKind.SERVER);
    expect(roots[0]?.attributes['http.route'] ?? roots[0]?.name).toContain('/v1/documents');

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ancestors = (s: ExportedSpan): ExportedSpan[] => {
      const chain: ExportedSpan[] = [];
      for (
        let p = s.parentSpanId && byId.get(s.parentSpanId);
        p;
        p = p.parentSpanId && byId.get(p.parentSpanId)
      )
        chain.push(p);
      return chain;
    };
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0] as ExportedSpan;
    };

    const publishIngest = one(`publish ${ns.commandSubject('ingestDocument')}`);
    expect(publishIngest.kind).toBe(SpanKind.PRODUCER);
    expect(publishIngest.attributes['messaging.system']).toBe('nats');
    expect(publishIngest.attributes['quarry.job.id']).toBe(job.id);
    expect(ancestors(publishIngest)).toContain(roots[0]);

    const processIngest = one(`process ${ns.commandSubject('ingestDocument')}`);
    expect(processIngest.kind).toBe(SpanKind.CONSUMER);
    expect(processIngest.parentSpanId).toBe(publishIngest.spanId);
    expect(processIngest.attributes['messaging.nats.message.delivery_count']).toBe(1);
    expect(processIngest.attributes['messaging.consumer.group.name']).toBe(ns.consumerName('ingestDocument'));

    const publishIndex = one(`publish ${ns.commandSubject('indexDocument')}`);
    expect(ancestors(publishIndex)).toContain(processIngest);

    const processIndex = spans
      .filter((s) => s.name === `process ${ns.commandSubject('indexDocument')}`)
      .sort(
        (a, b) =>
          Number(a.attributes['messaging.nats.message.delivery_count']) -
          Number(b.attributes['messaging.nats.message.delivery_count']),
      );
    expect(processIndex.map((s) => s.attributes['messaging.nats.message.delivery_count'])).toEqual([1, 2]);
    expect(processIndex.map((s) => s.attributes['quarry.outcome'])).toEqual(['retry', 'ack']);
    for (const delivery of processIndex) expect(delivery.parentSpanId).toBe(publishIndex.spanId);

    // The completion event is published by the delivery that finished the job.
    expect(ancestors(one(completed))).toContain(processIndex[1]);

    // Database work is in the trace too: Prisma's operations and their queries, each with the SQL as sent.
    expect(spans.some((s) => s.scope === 'prisma' && s.name === 'prisma:client:operation')).toBe(true);
    const queries = spans.filter((s) => s.scope === 'prisma' && s.name === 'prisma:client:db_query');
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.some((s) => /UPDATE documents/.test(String(s.attributes['db.query.text'])))).toBe(true);
    expect(
      spans.some((s) => s.scope === 'prisma' && ancestors(s).includes(processIndex[1] as ExportedSpan)),
    ).toBe(true);
  });
});
