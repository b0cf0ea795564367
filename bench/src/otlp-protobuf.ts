// Just enough of the protobuf wire format to count what an OTLP/HTTP protobuf exporter sent: the
// bench has no protobuf runtime of its own, and the receiver in @quarry/test-kit only decodes JSON.
import { gunzipSync } from 'node:zlib';

/** The span fields the bench looks at (opentelemetry/proto/trace/v1/trace.proto field numbers). */
export interface DecodedSpan {
  traceId: string;
  parentSpanId: string;
  name: string;
  /** SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
}

export const SPAN_KIND_SERVER = 2;

interface Field {
  number: number;
  /** Length-delimited payload (wire type 2); undefined for the other wire types. */
  bytes?: Buffer;
  /** Varint value (wire type 0), exact up to 2^53. */
  varint?: number;
}

function readVarint(buf: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length; i++) {
    const byte = buf[i] ?? 0;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  throw new Error('truncated varint');
}

function* fields(buf: Buffer): Generator<Field> {
  let at = 0;
  while (at < buf.length) {
    const key = readVarint(buf, at);
    at = key.next;
    const number = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    switch (wireType) {
      case 0: {
        const v = readVarint(buf, at);
        at = v.next;
        yield { number, varint: v.value };
        break;
      }
      case 1:
        at += 8;
        yield { number };
        break;
      case 2: {
        const len = readVarint(buf, at);
        const end = len.next + len.value;
        if (end > buf.length) throw new Error('truncated length-delimited field');
        yield { number, bytes: buf.subarray(len.next, end) };
        at = end;
        break;
      }
      case 5:
        at += 4;
        yield { number };
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
}

const sub = (buf: Buffer, number: number) =>
  [...fields(buf)].filter((f) => f.number === number && f.bytes).map((f) => f.bytes as Buffer);

function decodeSpan(buf: Buffer): DecodedSpan {
  const span: DecodedSpan = { traceId: '', parentSpanId: '', name: '', kind: 0 };
  for (const f of fields(buf)) {
    if (f.number === 1 && f.bytes) span.traceId = f.bytes.toString('hex');
    else if (f.number === 4 && f.bytes) span.parentSpanId = f.bytes.toString('hex');
    else if (f.number === 5 && f.bytes) span.name = f.bytes.toString('utf8');
    else if (f.number === 6 && f.varint !== undefined) span.kind = f.varint;
  }
  return span;
}

/**
 * The spans of one ExportTraceServiceRequest body: resource_spans (1) → scope_spans (2) → spans (2).
 * A gzip body (OTEL_EXPORTER_OTLP_COMPRESSION=gzip) is unpacked first.
 */
export function decodeExportTraceRequest(body: Buffer): DecodedSpan[] {
  const raw = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
  const out: DecodedSpan[] = [];
  for (const resourceSpans of sub(raw, 1))
    for (const scopeSpans of sub(resourceSpans, 2))
      for (const span of sub(scopeSpans, 2)) out.push(decodeSpan(span));
  return out;
}
