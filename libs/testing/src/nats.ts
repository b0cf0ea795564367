import { topology, type Topology } from '@quarry/contracts';
import { deprovisionJetStream, provisionJetStream, type ProvisionOptions } from '@quarry/messaging';
import { TEST_NATS_URL, testNamespaceName } from '@quarry/test-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface TestNamespace {
  namespace: string;
  topology: Topology;
  nc: NatsConnection;
  natsUrl: string;
  cleanup(): Promise<void>;
}

export const testProvisionOptions = (overrides: Partial<ProvisionOptions> = {}): ProvisionOptions => ({
  ackWaitMs: 3000,
  maxDeliver: 3,
  duplicateWindowMs: 120_000,
  eventsMaxAgeMs: 3_600_000,
  dlqMaxAgeMs: 3_600_000,
  maxAckPending: { ingestDocument: 16, indexDocument: 16 },
  ...overrides,
});

/**
 * A namespace of its own on the machine's real NATS server (streams, consumers, bucket), so tests
 * run in parallel with each other and with a developer's `npm start` without sharing messages.
 */
export async function createTestNamespace(
  label = 't',
  provision: Partial<ProvisionOptions> = {},
  options: { natsUrl?: string } = {},
): Promise<TestNamespace> {
  const namespace = testNamespaceName(label);
  const t = topology(namespace);
  // A comma-separated list (a cluster's nodes) is accepted, as the apps' NATS_URL is.
  const natsUrl = options.natsUrl ?? TEST_NATS_URL;
  const nc = await connect({ servers: natsUrl.split(','), name: `test-${namespace}` });
  await provisionJetStream(nc, t, testProvisionOptions(provision));
  return {
    namespace,
    topology: t,
    nc,
    natsUrl,
    async cleanup() {
      await deprovisionJetStream(nc, t);
      await nc.drain();
    },
  };
}
