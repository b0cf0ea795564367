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
  /**
   * Where messages stranded at `consumer`'s `max_deliver` would be (ADR 33): the messages it has delivered that are
   * still in the stream, oldest first, at most `limit`. Those are the ones a worker holds or JetStream will deliver
   * again (`ackPending` of them, as the consumer reported just before they were read) and the stranded ones, which
   * JetStream never delivers again, so `messages.length - ackPending` is a floor on how many of them are stranded.
   * When the stream holds no more messages on the consumer's subject than it has pending and out, none can be
   * stranded and `messages` is empty without reading them. Null when the consumer does not exist.
   */
  strandedCandidates(consumer: string, limit: number): Promise<StrandedCandidates | null>;
}

/** What `WorkQueue.strandedCandidates` found for one consumer. */
export interface StrandedCandidates {
  consumer: string;
  /** Messages out with a worker or due again, as the consumer reported them before `messages` were read. */
  ackPending: number;
  /** The consumer's delivery limit. */
  maxDeliver: number;
  messages: StoredCommand[];
  /** True when `limit` cut the list short. */
  truncated: boolean;
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
  /** The first message at or after `seq` on `subject` (STREAM.MSG.GET's next_by_subj, NATS 2.9+), or null. */
  const next = async (seq: number, subject: string): Promise<StoredCommand | null> => {
    try {
      // The client's type for the stream API omits next_by_subj, which the server has answered since 2.9.
      const query = { seq, next_by_subj: subject } as unknown as { seq: number };
      const m = await (await jsm()).streams.getMessage(stream, query);
      if (!m) return null;
      return { subject: m.subject, seq: m.seq, data: m.data, header: (n) => m.header.get(n) || undefined };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  };
  return {
    get,
    async strandedCandidates(consumer, limit) {
      const manager = await jsm();
      let info;
      try {
        info = await manager.consumers.info(stream, consumer);
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
      const subject = info.config.filter_subject ?? '>';
      const found = {
        consumer,
        ackPending: info.num_ack_pending,
        maxDeliver: info.config.max_deliver ?? -1,
        messages: [] as StoredCommand[],
        truncated: false,
      };
      // One request first: on the subject, the stream holds the consumer's pending, its out and its stranded.
      const { state } = await manager.streams.info(stream, { subjects_filter: subject });
      const onSubject = state.subjects ? (state.subjects[subject] ?? 0) : state.messages;
      if (onSubject <= info.num_pending + info.num_ack_pending) return found;
      // Read after the consumer's state: whatever was delivered after it has a higher sequence than `last`, and
      // whatever was acknowledged since is gone, so every message found was out (or stranded) when it was read.
      const last = info.delivered.stream_seq;
      const messages = found.messages;
      let seq = info.ack_floor.stream_seq + 1;
      let truncated = false;
      while (seq <= last) {
        const m = await next(seq, subject);
        if (!m || m.seq > last) break;
        if (messages.length >= limit) {
          truncated = true;
          break;
        }
        messages.push(m);
        seq = m.seq + 1;
      }
      return { ...found, truncated };
    },
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
