import { SpanKind, trace } from '@opentelemetry/api';
import type { TelemetryConfig } from '@quarry/config';
import { OtlpReceiver as Receiver, waitFor } from '@quarry/test-kit';
import { startTracing } from './start-tracing';

const config = (over: Partial<TelemetryConfig> & { url: string }): TelemetryConfig => ({
  enabled: true,
  serviceName: 'otlp-test',
  exporter: 'otlp',
  otlp: { tracesUrl: over.url, protocol: over.otlp?.protocol ?? 'http/protobuf' },
  batchDelayMs: 50,
  samplerFromEnv: false,
  ...(over.exporter ? { exporter: over.exporter } : {}),
});

describe('OTLP export', () => {
  let receiver: Receiver;
  beforeEach(async () => (receiver = await Receiver.start()));
  afterEach(() => receiver.close());

  it('sends spans as OTLP/HTTP protobuf to the configured endpoint', async () => {
    const tracing = startTracing({ app: 'ignored', config: config({ url: receiver.url }) });
    const span = trace.getTracer('test').startSpan('protobuf-span-name', { kind: SpanKind.SERVER });
    span.end();
    await waitFor(() => receiver.requests.length > 0, { description: 'an export request' });
    await tracing.shutdown();
    const [request] = receiver.requests;
    expect(request?.path).toBe('/v1/traces');
    expect(request?.contentType).toBe('application/x-protobuf');
    // Strings travel as-is inside the protobuf encoding.
    expect(request?.body.includes('protobuf-span-name')).toBe(true);
    expect(request?.body.includes('otlp-test')).toBe(true);
    expect(request?.body.includes(Buffer.from(span.spanContext().traceId, 'hex'))).toBe(true);
  });

  it('sends OTLP/HTTP JSON when asked, with the service name as resource', async () => {
    const tracing = startTracing({
      app: 'ignored',
      config: config({ url: receiver.url, otlp: { tracesUrl: receiver.url, protocol: 'http/json' } }),
    });
    const span = trace.getTracer('test').startSpan('json-span', { kind: SpanKind.SERVER });
    span.end();
    await waitFor(() => receiver.requests.length > 0, { description: 'an export request' });
    await tracing.shutdown();
    const body = JSON.parse(receiver.requests[0]?.body.toString('utf8') ?? '{}') as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: { name: string; traceId: string }[] }[];
      }[];
    };
    const [rs] = body.resourceSpans;
    expect(rs?.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe(
      'otlp-test',
    );
    expect(rs?.scopeSpans[0]?.spans[0]).toMatchObject({
      name: 'json-span',
      traceId: span.spanContext().traceId,
    });
  });

  it('exports nothing without an exporter, yet spans still have ids for the logs', async () => {
    const tracing = startTracing({ app: 'quiet', config: config({ url: receiver.url, exporter: 'none' }) });
    const span = trace.getTracer('test').startSpan('unexported', { kind: SpanKind.SERVER });
    expect(span.isRecording()).toBe(true);
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    span.end();
    await tracing.shutdown();
    expect(receiver.requests).toHaveLength(0);
  });
});

describe('root sampling', () => {
  it('keeps roots that start work and drops background queries without a parent', async () => {
    const tracing = startTracing({
      app: 'sampling',
      config: config({ url: 'http://127.0.0.1:9/v1/traces', exporter: 'none' }),
    });
    const tracer = trace.getTracer('test');
    const kept = [SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.PRODUCER].map((kind) =>
      tracer.startSpan('work', { kind }),
    );
    const dropped = [SpanKind.CLIENT, SpanKind.INTERNAL].map((kind) => tracer.startSpan('poll', { kind }));
    expect(kept.map((s) => s.isRecording())).toEqual([true, true, true]);
    expect(dropped.map((s) => s.isRecording())).toEqual([false, false]);
    [...kept, ...dropped].forEach((s) => s.end());
    await tracing.shutdown();
  });
});

describe('shutdown', () => {
  it('unhooks the instrumentations, so a later start in the same process patches only once', async () => {
    const quiet = config({ url: 'http://127.0.0.1:9/v1/traces', exporter: 'none' });
    await startTracing({ app: 'first', config: quiet }).shutdown();
    const second = startTracing({ app: 'second', config: quiet });
    // @fastify/otel decorates every new Fastify instance from a process-wide channel; a hook left over
    // from the first start would decorate it twice and throw.
    const { default: fastify } = await import('fastify');
    const app = fastify();
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
    await second.shutdown();
  });
});
