import { OtlpReceiver, waitFor } from '@quarry/test-kit';
import { FAKE_EMBEDDING_DIM, FAKE_EMBEDDING_MODEL, FakeEmbeddingServer } from '../chaos/fake-embeddings';
import { QuarryStack } from '../stack';

/**
 * The three apps as separate processes export by OTLP to a receiver on loopback, configured only by
 * the standard OTEL_* variables: one job's trace arrives in pieces from all three, joined by trace id
 * and parent span ids across process boundaries.
 */
describe('OTLP export from the running apps', () => {
  let stack: QuarryStack;
  let receiver: OtlpReceiver;
  let embeddings: FakeEmbeddingServer;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    embeddings = await FakeEmbeddingServer.start();
    stack = await QuarryStack.start('otlp', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      EMBEDDING_PROVIDER: 'openai',
      OPENAI_BASE_URL: embeddings.baseUrl,
      EMBEDDING_MODEL: FAKE_EMBEDDING_MODEL,
      EMBEDDING_DIM: String(FAKE_EMBEDDING_DIM),
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await embeddings?.close();
    await receiver?.close();
  });

  it("delivers one job's spans from the gateway and both workers under one trace id", async () => {
    const upload = await stack.upload([{ name: 'a.txt', bytes: Buffer.from('Exported to a collector.') }]);
    expect(upload.status).toBe(202);
    const job = await stack.waitForTerminal(upload.body.id);
    expect(job.status).toBe('succeeded');
    const ns = stack.ns.topology;

    // Each process exports in its own batches: wait until every step's spans have arrived.
    const expected = [
      `publish ${ns.commandSubject('ingestDocument')}`,
      `process ${ns.commandSubject('ingestDocument')}`,
      `publish ${ns.commandSubject('indexDocument')}`,
      `process ${ns.commandSubject('indexDocument')}`,
      `publish ${ns.eventSubject('completed')}`,
    ];
    const spans = await waitFor(
      () => {
        const found = receiver.jsonSpans().filter((s) => s.traceId === job.traceId);
        return expected.every((name) => found.some((s) => s.name === name)) ? found : undefined;
      },
      { timeoutMs: 15_000, description: 'every step of the job exported' },
    );
    const services = (name: string) => new Set(spans.filter((s) => s.name === name).map((s) => s.service));
    expect(services(`publish ${ns.commandSubject('ingestDocument')}`)).toEqual(new Set(['gateway']));
    expect(services(`process ${ns.commandSubject('ingestDocument')}`)).toEqual(new Set(['ingest-worker']));
    expect(services(`process ${ns.commandSubject('indexDocument')}`)).toEqual(new Set(['analysis-worker']));

    // A worker's consumer span names, as its parent, the span another process published with.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const ingest = spans.find((s) => s.name === `process ${ns.commandSubject('ingestDocument')}`);
    expect(byId.get(ingest?.parentSpanId ?? '')?.service).toBe('gateway');
    expect(receiver.requests.every((r) => r.path === '/v1/traces')).toBe(true);
  });
});
