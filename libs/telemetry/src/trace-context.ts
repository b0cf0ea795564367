import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TraceIds {
  traceId: string;
  spanId: string;
  /** W3C trace flags; bit 0 = sampled. */
  traceFlags: number;
}

export function parseTraceparent(value: string | undefined | null): TraceIds | undefined {
  const m = value ? TRACEPARENT.exec(value) : null;
  if (!m || /^0+$/.test(m[1] ?? '') || /^0+$/.test(m[2] ?? '')) return undefined;
  return { traceId: m[1] as string, spanId: m[2] as string, traceFlags: parseInt(m[3] as string, 16) };
}

/**
 * The W3C traceparent for new work: the active span's when an OpenTelemetry SDK is running, otherwise
 * a fresh sampled one, so that a job's id can always be joined to its logs and, later, its trace.
 */
export function currentOrNewTraceparent(): string {
  const span = trace.getSpan(context.active());
  const sc = span?.spanContext();
  if (sc && isSpanContextValid(sc)) {
    return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
  }
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}
