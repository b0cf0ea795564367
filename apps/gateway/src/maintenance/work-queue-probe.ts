import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** Asks the work-queue stream whether a published command is still in it. */
export interface WorkQueueProbe {
  /**
   * True while the message stored at `seq` is still in the stream (waiting for a worker, or being
   * worked on: a dead worker's message comes back after ack_wait). False once it was acknowledged,
   * terminated or removed, i.e. nobody will deliver it again.
   */
  isQueued(seq: number, msgId: string): Promise<boolean>;
}

export const WORK_QUEUE_PROBE = Symbol('WORK_QUEUE_PROBE');

export class JetStreamWorkQueueProbe implements WorkQueueProbe {
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
  ) {}

  async isQueued(seq: number, msgId: string): Promise<boolean> {
    this.jsm ??= jetstreamManager(this.nc).catch((error: unknown) => {
      this.jsm = undefined;
      throw error;
    });
    const message = await (await this.jsm).streams.getMessage(this.stream, { seq });
    // A sequence is only ever reused by a stream deleted and created again: the id says whether it is ours.
    return message !== null && message.header?.get('Nats-Msg-Id') === msgId;
  }
}
