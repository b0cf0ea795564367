import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SimpleSpanProcessor, InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { createLogger } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    pretty: false,
    app: 'test',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines };
}

describe('logger', () => {
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() })],
  });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('puts the active span’s trace_id and span_id on every line written inside it', async () => {
    const { logger, lines } = capture();
    const span: Span = trace.getTracer('t').startSpan('work');
    await context.with(trace.setSpan(context.active(), span), async () => {
      logger.info('before await');
      await Promise.resolve();
      logger.child({ step: 'x' }).warn('after await, from a child');
    });
    logger.info('outside');
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(lines.slice(0, 2).map((l) => [l['trace_id'], l['span_id']])).toEqual([
      [traceId, spanId],
      [traceId, spanId],
    ]);
    expect(lines[2]).not.toHaveProperty('trace_id');
  });

  it('redacts API keys, authorization headers and passwords in URLs', () => {
    const { logger, lines } = capture();
    logger.info({ headers: { authorization: 'Bearer secret-key-123' }, apiKey: 'k-456' }, 'request');
    logger.info({ config: { openai: { apiKey: 'sk-live-789' } } }, 'config');
    logger.error(
      { err: new Error('connect failed for postgresql://quarry:hunter2@db:5432/quarry') },
      'db down at postgresql://quarry:hunter2@db:5432/quarry',
    );
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    for (const secret of ['secret-key-123', 'k-456', 'sk-live-789', 'hunter2'])
      expect(text).not.toContain(secret);
    expect(text).toContain('postgresql://quarry:[redacted]@db:5432/quarry');
  });
});
