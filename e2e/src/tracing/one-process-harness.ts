import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { loadConfig } from '@quarry/config';
import { startTracing } from '@quarry/otel';
import { createServer } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The gateway and both workers in ONE Node process under an in-memory span exporter, so a test sees
 * every span of a job with nothing lost to batching or the network. It runs as a process of its own
 * because OpenTelemetry patches http, pg and Nest through Node's module loader, which Jest bypasses.
 * Tracing is started here first with the apps' own SDK set-up; each app's instrument.ts then finds
 * it running and keeps it. Spans are served as JSON on HARNESS_SPANS_PORT.
 */
export interface ExportedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  scope: string;
  attributes: Record<string, unknown>;
  status: number;
  ended: boolean;
}

function toJson(s: ReadableSpan): ExportedSpan {
  return {
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    scope: s.instrumentationScope.name,
    attributes: { ...s.attributes },
    status: s.status.code,
    ended: s.ended,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const exporter = new InMemorySpanExporter();
  startTracing({
    app: 'quarry-one-process',
    config: config.telemetry,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });

  const spansPort = Number(process.argv[2]);
  createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(exporter.getFinishedSpans().map(toJson)));
  }).listen(spansPort, '127.0.0.1');

  // dist/e2e/src/tracing → dist/apps/<app>/src/main.js, the very files `npm start` runs.
  const dist = path.resolve(__dirname, '../../..');
  for (const app of ['gateway', 'ingest-worker', 'analysis-worker']) {
    await import(pathToFileURL(path.join(dist, 'apps', app, 'src/main.js')).href);
  }
}

void main();
