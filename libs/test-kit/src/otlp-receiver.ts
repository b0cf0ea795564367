import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  /** service.name of the process that sent it. */
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
}

interface OtlpJsonBody {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { name: string; traceId: string; spanId: string; parentSpanId?: string }[] }[];
  }[];
}

/** An OTLP/HTTP receiver on loopback (what a collector is to the apps) that keeps what it is sent. */
export class OtlpReceiver {
  readonly requests: { path: string; contentType: string; body: Buffer }[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const contentType = req.headers['content-type'] ?? '';
        receiver.requests.push({ path: req.url ?? '', contentType, body: Buffer.concat(parts) });
        res.writeHead(200, { 'content-type': contentType || 'application/json' });
        res.end(contentType.includes('json') ? '{}' : undefined);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The OTLP endpoint to give OTEL_EXPORTER_OTLP_ENDPOINT (exporters add /v1/traces). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get url(): string {
    return `${this.endpoint}/v1/traces`;
  }

  /** Spans of the OTLP/JSON requests received so far. */
  jsonSpans(): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (const r of this.requests) {
      if (!r.contentType.includes('json')) continue;
      const body = JSON.parse(r.body.toString('utf8')) as OtlpJsonBody;
      for (const rs of body.resourceSpans ?? []) {
        const service =
          rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            out.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
            });
      }
    }
    return out;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
