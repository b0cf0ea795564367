import { QuarryError, Services, type Topology } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { QuarryHeaders } from './headers';
import { failSpan, MessagingAttributes, traceparentOf, withConsumerSpan } from './tracing';
import type { z } from 'zod';

type ServiceName = keyof typeof Services;
type Req<S extends ServiceName> = z.infer<(typeof Services)[S]['request']>;
type Rep<S extends ServiceName> = z.infer<(typeof Services)[S]['reply']>;

/** Answers a request/reply service in a queue group, so replicas share the load. */
export function serveRequests<S extends ServiceName>(
  nc: NatsConnection,
  topology: Topology,
  name: S,
  handler: (request: Req<S>) => Promise<Rep<S>>,
  logger: Logger,
): Subscription {
  const service = Services[name];
  return nc.subscribe(topology.serviceSubject(name), {
    queue: topology.subject(service.queue),
    callback: (err, msg) => {
      if (err) {
        logger.warn({ err }, 'service subscription error');
        return;
      }
      const traceparent = msg.headers?.get(QuarryHeaders.traceparent) || undefined;
      void withConsumerSpan(
        msg.subject,
        traceparent,
        { [MessagingAttributes.consumerGroup]: topology.subject(service.queue) },
        async (span) => {
          let reply: unknown;
          try {
            const request = service.request.parse(msg.json()) as Req<S>;
            reply = await handler(request);
          } catch (error) {
            const code = error instanceof QuarryError ? error.code : 'internal';
            failSpan(span, error, code);
            if (code === 'internal') logger.error({ err: error, service: name }, 'service handler failed');
            reply = {
              ok: false,
              error: { code, message: error instanceof Error ? error.message : String(error) },
            };
          }
          msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
        },
      );
    },
  });
}

export async function requestService<S extends ServiceName>(
  nc: NatsConnection,
  topology: Topology,
  name: S,
  request: Req<S>,
  timeoutMs: number,
): Promise<Rep<S>> {
  const service = Services[name];
  const subject = topology.serviceSubject(name);
  const span = trace.getTracer('quarry-messaging').startSpan(
    `send ${subject}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [MessagingAttributes.system]: 'nats',
        [MessagingAttributes.operationName]: 'send',
        [MessagingAttributes.operationType]: 'send',
        [MessagingAttributes.destination]: subject,
      },
    },
    context.active(),
  );
  const h = natsHeaders();
  const traceparent = traceparentOf(span);
  if (traceparent) h.set(QuarryHeaders.traceparent, traceparent);
  let raw: unknown;
  try {
    const msg = await nc.request(subject, JSON.stringify(request), { timeout: timeoutMs, headers: h });
    raw = msg.json();
    span.setStatus({ code: SpanStatusCode.OK });
  } catch (cause) {
    failSpan(span, cause, 'search_unavailable');
    throw new QuarryError(
      'search_unavailable',
      `${name} service did not answer (is the analysis worker running?)`,
      { cause },
    );
  } finally {
    span.end();
  }
  return service.reply.parse(raw) as Rep<S>;
}
