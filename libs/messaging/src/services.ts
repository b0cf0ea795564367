import { QuarryError, Services, type Topology } from '@quarry/contracts';
import type { Logger } from '@quarry/telemetry';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
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
      void (async () => {
        let reply: unknown;
        try {
          const request = service.request.parse(msg.json()) as Req<S>;
          reply = await handler(request);
        } catch (error) {
          const code = error instanceof QuarryError ? error.code : 'internal';
          if (code === 'internal') logger.error({ err: error, service: name }, 'service handler failed');
          reply = {
            ok: false,
            error: { code, message: error instanceof Error ? error.message : String(error) },
          };
        }
        msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
      })();
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
  let raw: unknown;
  try {
    const msg = await nc.request(topology.serviceSubject(name), JSON.stringify(request), {
      timeout: timeoutMs,
    });
    raw = msg.json();
  } catch (cause) {
    throw new QuarryError(
      'search_unavailable',
      `${name} service did not answer (is the analysis worker running?)`,
      { cause },
    );
  }
  return service.reply.parse(raw) as Rep<S>;
}
