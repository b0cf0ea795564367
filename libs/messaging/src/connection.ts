import { QuarryError } from '@quarry/contracts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@quarry/telemetry';

export interface NatsConnectOptions {
  url: string;
  name: string;
  connectTimeoutMs: number;
}

/**
 * Connects with unlimited reconnects: once up, a NATS restart is a pause, not a crash. The first
 * connection must succeed, so a process started without NATS says so instead of idling.
 */
export async function connectToNats(options: NatsConnectOptions, logger: Logger): Promise<NatsConnection> {
  try {
    const nc = await connect({
      servers: options.url.split(','),
      name: options.name,
      timeout: options.connectTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // Every request (each JetStream publish, each ack with a reply) would otherwise capture two stack
      // traces in case it fails: a tenth of the messaging CPU per job in the bench. Errors keep their own stacks.
      noAsyncTraces: true,
    });
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
          logger.warn(
            { nats: status.type, server: 'server' in status ? status.server : undefined },
            'nats connection',
          );
        }
      }
    })();
    return nc;
  } catch (cause) {
    throw new QuarryError(
      'dependency_unavailable',
      `cannot reach NATS at ${options.url}: start it with 'nats-server -js' (see README) or set NATS_URL`,
      { cause },
    );
  }
}
