import { topology, type Topology } from '@quarry/contracts';
import { TEST_NATS_URL, testNamespaceName } from '@quarry/test-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { CommandConsumerOptions } from '../command-consumer';
import { deprovisionJetStream, provisionJetStream, type ProvisionOptions } from '../provisioning';

/** Short timers, so that redelivery and dead-lettering happen within a test's patience. */
const TEST_PROVISIONING: ProvisionOptions = {
  ackWaitMs: 2000,
  maxDeliver: 3,
  duplicateWindowMs: 120_000,
  eventsMaxAgeMs: 3_600_000,
  dlqMaxAgeMs: 3_600_000,
  maxAckPending: { ingestDocument: 16, indexDocument: 16 },
};

/** A consumer's side of the same timers (its handler gets the deliveries provisioning allows), fast retries. */
export const TEST_CONSUMER_OPTIONS = {
  concurrency: 1,
  ackWaitMs: TEST_PROVISIONING.ackWaitMs,
  maxDeliver: TEST_PROVISIONING.maxDeliver,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 100,
  pullExpiresMs: 1000,
} satisfies CommandConsumerOptions;

export interface TestJetStream {
  nc: NatsConnection;
  t: Topology;
  /** Deletes the namespace's streams, consumers and bucket, then drains the connection. */
  remove(): Promise<void>;
}

/**
 * A namespace of its own on the shared NATS, provisioned as production provisions it, for this
 * library's integration tests (libs/testing's helpers build on this library, so it cannot use them).
 */
export async function provisionTestJetStream(
  label: string,
  overrides: Partial<ProvisionOptions> = {},
): Promise<TestJetStream> {
  const t = topology(testNamespaceName(label));
  const nc = await connect({ servers: TEST_NATS_URL });
  await provisionJetStream(nc, t, { ...TEST_PROVISIONING, ...overrides });
  return {
    nc,
    t,
    remove: async () => {
      await deprovisionJetStream(nc, t);
      await nc.drain();
    },
  };
}
