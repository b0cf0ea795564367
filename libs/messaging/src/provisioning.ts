import { Commands, LANES, type CommandName, type Topology } from '@quarry/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';

export interface ProvisionOptions {
  ackWaitMs: number;
  maxDeliver: number;
  duplicateWindowMs: number;
  eventsMaxAgeMs: number;
  dlqMaxAgeMs: number;
  /**
   * Per consumer: how many messages may be unacknowledged at once across all replicas (a command not named gets
   * DEFAULT_MAX_ACK_PENDING).
   */
  maxAckPending: Partial<Record<CommandName, number>>;
  replicas?: number;
}

const ns = (ms: number) => ms * 1_000_000;
export const DEFAULT_MAX_ACK_PENDING = 64;

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 404 || error.message.includes('not found'));
}

async function upsertStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }) {
  try {
    await jsm.streams.info(config.name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
    return;
  }
  // Retention and storage cannot change on an existing stream; everything we tune can.
  const { retention: _r, storage: _s, ...updatable } = config;
  await jsm.streams.update(config.name, updatable);
}

/**
 * Creates or updates the streams, the durable pull consumers and the blob bucket. Idempotent, run by
 * `npm start`/`npm test` set-up and by the deploy job, never by every replica at boot.
 */
export async function provisionJetStream(
  nc: NatsConnection,
  t: Topology,
  o: ProvisionOptions,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const replicas = o.replicas ?? 1;
  await upsertStream(jsm, {
    name: t.jobsStream,
    subjects: [t.subject('jobs.>')],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: ns(o.duplicateWindowMs),
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
  });
  await upsertStream(jsm, {
    name: t.eventsStream,
    subjects: [t.subject('events.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: ns(o.eventsMaxAgeMs),
    duplicate_window: ns(o.duplicateWindowMs),
    num_replicas: replicas,
  });
  await upsertStream(jsm, {
    name: t.dlqStream,
    subjects: [t.subject('dlq.>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: ns(o.dlqMaxAgeMs),
    duplicate_window: ns(o.duplicateWindowMs),
    num_replicas: replicas,
  });
  await addDlqRecorderConsumer(jsm, t);
  await addWebhookConsumer(jsm, t);

  for (const name of Object.keys(Commands) as CommandName[]) {
    for (const lane of LANES) {
      const durable = t.consumerName(name, lane);
      const config = {
        durable_name: durable,
        filter_subject: t.commandSubject(name, lane),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ns(o.ackWaitMs),
        // One more than the handler's own limit: the last delivery is where the messaging layer
        // dead-letters the message itself, so the server never silently gives up on it.
        max_deliver: o.maxDeliver + 1,
        max_ack_pending: o.maxAckPending[name] ?? DEFAULT_MAX_ACK_PENDING,
      };
      try {
        await jsm.consumers.info(t.jobsStream, durable);
        await jsm.consumers.update(t.jobsStream, durable, {
          ack_wait: config.ack_wait,
          max_deliver: config.max_deliver,
          max_ack_pending: config.max_ack_pending,
        });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await jsm.consumers.add(t.jobsStream, config);
      }
    }
  }

  const objm = new Objm(nc);
  await objm.create(t.blobBucket, { storage: StorageType.File, replicas });
  // One value per key (a blob never changes); a purged blob leaves only a marker.
  // Direct get (NATS 2.9+) serves a read as the stored message itself; the blob store binds with it.
  await new Kvm(nc).create(t.smallBlobBucket, {
    storage: StorageType.File,
    replicas,
    history: 1,
    allow_direct: true,
  });
}

/** The gateway's durable consumer on the DLQ stream, which records every dead letter in PostgreSQL. */
export const dlqRecorderConsumerName = (t: Topology): string => `${t.namespace}_dlq_recorder`;

async function addDlqRecorderConsumer(jsm: JetStreamManager, t: Topology): Promise<void> {
  const durable = dlqRecorderConsumerName(t);
  try {
    await jsm.consumers.info(t.dlqStream, durable);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // From the stream's first message, so dead letters from before the recorder existed are recorded
  // too. Two replicas adding the same config at once is fine: the server accepts an identical add.
  await jsm.consumers.add(t.dlqStream, {
    durable_name: durable,
    filter_subject: t.subject('dlq.>'),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ns(30_000),
  });
}

/**
 * Creates the DLQ recorder's consumer if it is missing and leaves an existing one alone, so every
 * gateway replica may call it at boot: a gateway deployed before `ops setup` ran still records.
 */
export async function ensureDlqRecorderConsumer(nc: NatsConnection, t: Topology): Promise<void> {
  await addDlqRecorderConsumer(await jetstreamManager(nc), t);
}

async function addWebhookConsumer(jsm: JetStreamManager, t: Topology): Promise<void> {
  const durable = t.webhookConsumerName;
  try {
    await jsm.consumers.info(t.eventsStream, durable);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // Public events only (four tokens after `events.`), from when the dispatcher first attached: a webhook takes the
  // events that happen after it is created, not the stream's history.
  await jsm.consumers.add(t.eventsStream, {
    durable_name: durable,
    filter_subject: t.publicEventFilter({}),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    ack_wait: ns(30_000),
    max_ack_pending: 1000,
  });
}

/** Creates the webhook dispatcher's consumer if it is missing (any gateway replica may call it at boot). */
export async function ensureWebhookConsumer(nc: NatsConnection, t: Topology): Promise<void> {
  await addWebhookConsumer(await jetstreamManager(nc), t);
}

/** Removes everything a namespace owns; used by tests that made their own namespace. */
export async function deprovisionJetStream(nc: NatsConnection, t: Topology): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of [
    t.jobsStream,
    t.eventsStream,
    t.dlqStream,
    `OBJ_${t.blobBucket}`,
    `KV_${t.smallBlobBucket}`,
  ]) {
    try {
      await jsm.streams.delete(stream);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
