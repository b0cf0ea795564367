import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NoopSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import type { TelemetryConfig } from '@quarry/config';
import { UnitOfWorkRootSampler } from './sampler';

/** Probes and scrapes arrive every few seconds and say nothing about jobs; they start no trace. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface TracingHandle {
  /** Flushes spans still buffered (the batch processor holds them for up to OTEL_BSP_SCHEDULE_DELAY). */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** The app's name, used as `service.name` unless OTEL_SERVICE_NAME says otherwise. */
  app: string;
  config: TelemetryConfig;
  /** Replaces the exporter chosen by config (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** SDK self-diagnostics (an exporter that cannot reach the collector); defaults to stderr. */
  diagLogger?: DiagLogger;
}

const STARTED = Symbol.for('quarry.otel.started');
type GlobalWithHandle = typeof globalThis & { [STARTED]?: TracingHandle };

/**
 * Starts the OpenTelemetry Node SDK. Must run before http, fastify, Nest, pg and the Prisma client
 * are loaded (each app's `instrument.ts`, the first import of its `main.ts`). Spans are always
 * made, so every log line of a job's work carries its trace and span ids; they are exported only
 * when an exporter is configured. Starting twice in one process (a test harness that hosts several
 * apps) keeps the first SDK.
 */
export function startTracing(options: StartTracingOptions): TracingHandle {
  const g = globalThis as GlobalWithHandle;
  const existing = g[STARTED];
  if (existing) return existing;
  if (!options.config.enabled) {
    g[STARTED] = { shutdown: () => Promise.resolve() };
    return g[STARTED];
  }
  if (options.diagLogger) diag.setLogger(options.diagLogger, DiagLogLevel.WARN);

  const instrumentations = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
    }),
    // Fewer spans per request (measured: 46 per upload with everything on, +23 % gateway CPU; see
    // bench/results): the route handler span stays, one span per Fastify hook plugin, pool
    // checkouts and Prisma's compile/serialize phases go. A query is the Prisma operation and its
    // `prisma:client:db_query` span, which carries the SQL as sent (`db.query.text`); pg's own span of
    // the same statement was a duplicate, and with prepared statements (ADR 23) it was named by a hash.
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      ignorePaths: ({ url }) => UNTRACED_PATHS.has(url),
      instrumentHooks: false,
    }),
    new NestInstrumentation(),
    new PrismaInstrumentation({ ignoreSpanTypes: ['prisma:client:serialize', 'prisma:client:compile'] }),
  ];
  const sdk = new NodeSDK({
    serviceName: options.config.serviceName ?? options.app,
    // Left to the SDK when OTEL_TRACES_SAMPLER is set (it reads that and OTEL_TRACES_SAMPLER_ARG).
    ...(options.config.samplerFromEnv
      ? {}
      : { sampler: new ParentBasedSampler({ root: new UnitOfWorkRootSampler() }) }),
    spanProcessors: options.spanProcessors ?? spanProcessorsFor(options.config),
    // Quarry's metrics are Prometheus text (prom-client) and its logs go to stdout; the SDK only traces.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations,
  });
  sdk.start();
  const handle: TracingHandle = {
    shutdown: async () => {
      await sdk.shutdown();
      // Unpatched and unsubscribed (@fastify/otel listens on a process-wide diagnostics channel).
      for (const instrumentation of instrumentations) instrumentation.disable();
      // Unregistered so that a later start in the same process (tests) registers afresh.
      trace.disable();
      context.disable();
      propagation.disable();
      delete g[STARTED];
    },
  };
  g[STARTED] = handle;
  return handle;
}

function spanProcessorsFor(config: TelemetryConfig): SpanProcessor[] {
  const exporter = exporterFor(config);
  // Without an exporter spans still get ids and context (logs carry them); they are just not sent.
  if (!exporter) return [new NoopSpanProcessor()];
  return [new BatchSpanProcessor({ exporter, scheduledDelayMillis: config.batchDelayMs })];
}

function exporterFor(config: TelemetryConfig): SpanExporter | undefined {
  switch (config.exporter) {
    case 'none':
      return undefined;
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp':
      return config.otlp.protocol === 'http/json'
        ? new OtlpJsonExporter({ url: config.otlp.tracesUrl })
        : new OtlpProtoExporter({ url: config.otlp.tracesUrl });
  }
}
