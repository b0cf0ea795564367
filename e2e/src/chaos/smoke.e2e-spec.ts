import { ChaosStack } from './chaos-stack';
import { expectClean, runScenario } from './scenario';
import { scenarios } from './scenarios';

/**
 * The small chaos run of the e2e tier (`npm test`): the two worker kills and a nats-server restart,
 * 40 jobs each. The full run, every scenario with a few hundred jobs, is `npm run test:chaos`.
 */
describe('chaos (small run): workers killed and NATS restarted under load lose nothing', () => {
  let stack: ChaosStack;
  const small = { jobs: 40, jobsPerSecond: 6 };

  beforeAll(async () => {
    stack = await ChaosStack.start({ label: 'smoke', natsNodes: 1 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it.each([
    ['SIGKILL of the ingest worker', scenarios.killIngestWorker],
    ['SIGKILL of the analysis worker', scenarios.killAnalysisWorker],
    ['a nats-server restart', scenarios.restartNats],
  ])(
    '%s: every accepted job ends terminal, none lost, duplicated or stuck',
    async (_name, scenario) => {
      expectClean(stack, await runScenario(stack, scenario(small)));
    },
    5 * 60_000,
  );
});
