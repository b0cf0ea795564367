import { JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** A message still held by the work-queue stream. */
export interface StoredCommand {
  subject: string;
  seq: number;
  data: Uint8Array;
  header(name: string): string | undefined;
}

/** Port over the jobs (work-queue) stream: read a message by sequence, ask whether it is still there, remove it. */
export interface WorkQueue {
  get(seq: number): Promise<StoredCommand | null>;
  /**
   * True while the message stored at `seq` is still in the stream (waiting for a worker, or being worked on: a
   * dead worker's message comes back after ack_wait). False once it was acknowledged, terminated or removed,
   * i.e. nobody will deliver it again. The id tells ours from a reused sequence of a stream made again.
   */
  isQueued(seq: number, msgId: string): Promise<boolean>;
  remove(seq: number): Promise<void>;
}

export const WORK_QUEUE = Symbol('WORK_QUEUE');

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 404 || /not found/i.test(error.message));
}

/** The WorkQueue of a JetStream stream, through the stream's direct message API. */
export function jetStreamWorkQueue(nc: NatsConnection, stream: string): WorkQueue {
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () =>
    (manager ??= jetstreamManager(nc).catch((error: unknown) => {
      manager = undefined;
      throw error;
    }));
  const get = async (seq: number): Promise<StoredCommand | null> => {
    try {
      const m = await (await jsm()).streams.getMessage(stream, { seq });
      if (!m) return null;
      return { subject: m.subject, seq: m.seq, data: m.data, header: (n) => m.header.get(n) || undefined };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  };
  return {
    get,
    async isQueued(seq, msgId) {
      const message = await get(seq);
      return message !== null && message.header('Nats-Msg-Id') === msgId;
    },
    async remove(seq) {
      try {
        await (await jsm()).streams.deleteMessage(stream, seq, false);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}
