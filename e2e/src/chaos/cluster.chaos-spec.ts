import { ChaosStack } from './chaos-stack';
import { expectClean, runScenario } from './scenario';
import { plan, scenarios } from './scenarios';

describe('chaos: a three-node NATS cluster with replicated streams loses a node', () => {
  let stack: ChaosStack;

  beforeAll(async () => {
    stack = await ChaosStack.start({ label: 'cluster', natsNodes: 3 });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it(
    'SIGKILL of the node leading the jobs stream mid-run: every accepted job ends terminal, none lost',
    async () => {
      const info = await stack.jsm.streams.info(stack.ns.topology.jobsStream);
      // The premise: every stream is R3 across the three nodes.
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas).toHaveLength(2);

      const result = await runScenario(stack, scenarios.killClusterNode(plan(300, 6)));
      expectClean(stack, result);
    },
    15 * 60_000,
  );
});
