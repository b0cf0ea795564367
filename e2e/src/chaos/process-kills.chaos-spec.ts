import { ChaosStack } from './chaos-stack';
import { expectClean, runScenario } from './scenario';
import { plan, scenarios } from './scenarios';

const SCENARIO_TIMEOUT_MS = 15 * 60_000;

describe('chaos: SIGKILL of each app in turn under load', () => {
  let stack: ChaosStack;

  beforeAll(async () => {
    stack = await ChaosStack.start({ label: 'kills', natsNodes: 1 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it.each([
    ['ingest worker', scenarios.killIngestWorker],
    ['analysis worker', scenarios.killAnalysisWorker],
    ['gateway', scenarios.killGateway],
  ])(
    'SIGKILL of the %s, then a restart: every accepted job ends terminal, none lost or duplicated',
    async (_name, scenario) => {
      const result = await runScenario(stack, scenario(plan(300, 6)));
      expectClean(stack, result);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
