import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { QuarryError, Services, type Topology } from '@quarry/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MessagePublisher, PublishOptions, PublishResult } from '../publisher';
import { requestService } from '../services';
import { servicePattern, type ServiceName } from './patterns';

/** What `emit` publishes to JetStream: the payload and its deterministic id (and headers). */
export class JetStreamRecord<T = unknown> {
  constructor(
    readonly payload: T,
    readonly options: PublishOptions,
  ) {}
}

const SERVICE_BY_PATTERN = new Map(
  (Object.keys(Services) as ServiceName[]).map((name) => [servicePattern(name), name]),
);

/**
 * The client side of the JetStream transport, as a Nest ClientProxy: `send(servicePattern(name), request)` asks a
 * request/reply service of the catalogue (traced, in its queue group; a service that does not answer in time is
 * `search_unavailable`), and `emit(subject, new JetStreamRecord(payload, {msgId}))` publishes to JetStream and
 * emits the stream's acknowledgement. The connection belongs to the messaging module, which drains it at shutdown.
 */
export class JetStreamClient extends ClientProxy {
  constructor(
    private readonly nc: NatsConnection,
    private readonly topology: Topology,
    private readonly publisher: MessagePublisher,
    private readonly requestTimeoutMs: number,
  ) {
    super();
  }

  connect(): Promise<NatsConnection> {
    return Promise.resolve(this.nc);
  }

  close(): void {
    // Nothing of its own to close: the connection is shared and drained by the messaging module.
  }

  unwrap<T>(): T {
    return this.nc as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const name = SERVICE_BY_PATTERN.get(String(packet.pattern));
    if (!name) {
      callback({
        err: new QuarryError('internal', `${String(packet.pattern)} is not a service of the catalogue`),
        isDisposed: true,
      });
      return () => undefined;
    }
    requestService(
      this.nc,
      this.topology,
      name,
      Services[name].request.parse(packet.data),
      this.requestTimeoutMs,
    ).then(
      (response) => callback({ response, isDisposed: true }),
      (err: unknown) => callback({ err, isDisposed: true }),
    );
    // A NATS request cannot be withdrawn once sent; an unsubscribed caller simply ignores the reply.
    return () => undefined;
  }

  protected dispatchEvent<T = PublishResult>(packet: ReadPacket): Promise<T> {
    if (!(packet.data instanceof JetStreamRecord)) {
      return Promise.reject(
        new QuarryError(
          'internal',
          'emit takes a JetStreamRecord: every JetStream publish needs its Nats-Msg-Id',
        ),
      );
    }
    const record = packet.data as JetStreamRecord;
    return this.publisher.publish(String(packet.pattern), record.payload, record.options) as Promise<T>;
  }
}
