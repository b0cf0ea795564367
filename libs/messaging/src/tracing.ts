import {
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { parseTraceparent } from '@quarry/telemetry';

/**
 * Producer and consumer spans for JetStream, after the OpenTelemetry messaging conventions. The
 * producer span's context travels in the message's `traceparent` header and the consumer span is
 * its child, so a job's HTTP request, every step and every redelivery form one trace.
 * Only `@opentelemetry/api` is used: without a running SDK these are no-ops that still pass the
 * caller's traceparent through unchanged.
 */
const tracer = () => trace.getTracer('quarry-messaging');

/** Attribute names; `messaging.nats.*` follows the convention's per-system namespace. */
export const MessagingAttributes = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  bodySize: 'messaging.message.body.size',
  consumerGroup: 'messaging.consumer.group.name',
  deliveryCount: 'messaging.nats.message.delivery_count',
  streamSequence: 'messaging.nats.stream.sequence',
  duplicate: 'messaging.nats.duplicate',
  outcome: 'quarry.outcome',
  errorCode: 'quarry.error.code',
  jobId: 'quarry.job.id',
  documentId: 'quarry.document.id',
  tenantId: 'quarry.tenant.id',
} as const;

/** A remote parent built from a W3C traceparent; needs no propagator to be registered. */
export function contextFromTraceparent(traceparent: string | undefined): Context | undefined {
  const ids = parseTraceparent(traceparent);
  if (!ids) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, { ...ids, isRemote: true });
}

export function traceparentOf(span: Span): string | undefined {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`;
}

/**
 * The parent of a publish: the active span when it belongs to the same trace as the message
 * (a worker publishing the next step inside its consumer span), otherwise the message's own
 * traceparent (the outbox sweep, which runs outside any job's context).
 */
function producerParent(traceparent: string | undefined): Context {
  const active = context.active();
  const given = contextFromTraceparent(traceparent);
  if (!given) return active;
  const activeSc = trace.getSpanContext(active);
  const sameTrace =
    activeSc !== undefined &&
    isSpanContextValid(activeSc) &&
    activeSc.traceId === trace.getSpanContext(given)?.traceId;
  return sameTrace ? active : given;
}

export function startProducerSpan(
  subject: string,
  traceparent: string | undefined,
  attributes: Attributes,
): Span {
  return tracer().startSpan(
    `publish ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [MessagingAttributes.system]: 'nats',
        [MessagingAttributes.operationName]: 'publish',
        [MessagingAttributes.operationType]: 'send',
        [MessagingAttributes.destination]: subject,
        ...attributes,
      },
    },
    producerParent(traceparent),
  );
}

/**
 * Runs `work` inside a consumer span that is a child of the producer span named by the message's
 * traceparent, so the handler's database spans and the messages it publishes join the same trace.
 */
export async function withConsumerSpan<T>(
  subject: string,
  traceparent: string | undefined,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = contextFromTraceparent(traceparent) ?? ROOT_CONTEXT;
  const span = tracer().startSpan(
    `process ${subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        [MessagingAttributes.system]: 'nats',
        [MessagingAttributes.operationName]: 'process',
        [MessagingAttributes.operationType]: 'process',
        [MessagingAttributes.destination]: subject,
        ...attributes,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export function failSpan(span: Span, error: unknown, code?: string): void {
  if (error instanceof Error) span.recordException(error);
  if (code) span.setAttribute(MessagingAttributes.errorCode, code);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * Marks the active delivery's span as the failure of its document. The message itself is acked
 * (the failure is recorded, nothing to retry), so without this the trace would show a healthy step.
 */
export function markDocumentFailedInTrace(code: string, message: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.setAttribute(MessagingAttributes.errorCode, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
