import { ChaosStack } from './chaos-stack';
import { expectClean, runScenario } from './scenario';
import { plan, scenarios } from './scenarios';

const SCENARIO_TIMEOUT_MS = 15 * 60_000;

describe('chaos: NATS and PostgreSQL restarts under load', () => {
  let stack: ChaosStack;

  beforeAll(async () => {
    stack = await ChaosStack.start({ label: 'infra', natsNodes: 1 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it.each([
    ['nats-server', scenarios.restartNats],
    ['PostgreSQL', scenarios.restartPostgres],
    ['long PostgreSQL outage and', scenarios.postgresOutage],
  ])(
    'a %s restart mid-run: workers back off and resume, every accepted job ends terminal, none lost',
    async (_name, scenario) => {
      const result = await runScenario(stack, scenario(plan(300, 6)));
      expectClean(stack, result);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
