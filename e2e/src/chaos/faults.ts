import { waitFor } from '@quarry/testing';
import type { ChaosStack } from './chaos-stack';
import type { FaultContext } from './scenario';

type Worker = 'ingest-worker' | 'analysis-worker';

const CONSUMER_OF: Record<Worker, 'ingestDocument' | 'indexDocument'> = {
  'ingest-worker': 'ingestDocument',
  'analysis-worker': 'indexDocument',
};

/** The fault strikes once this share of the jobs has been answered, so work is queued and in flight. */
const STRIKE_AT = 1 / 3;

function strikePoint(ctx: FaultContext): Promise<void> {
  return ctx.load.until((d) => d.submitted >= Math.ceil(ctx.plan.jobs * STRIKE_AT));
}

async function readiness(stack: ChaosStack): Promise<{ database?: string; nats?: string } | undefined> {
  try {
    const r = await fetch(`${stack.baseUrl}/readyz`, { signal: AbortSignal.timeout(5000) });
    return ((await r.json()) as { checks?: { database?: string; nats?: string } }).checks;
  } catch {
    return undefined;
  }
}

/** The outage lasts until clients and the gateway have both noticed it, then heals. */
async function untilNoticed(
  ctx: FaultContext,
  check: (checks: { database?: string; nats?: string }) => boolean,
  what: string,
): Promise<void> {
  const failedBefore = ctx.load.failedAttemptCount;
  await waitFor(async () => check((await readiness(ctx.stack)) ?? {}), {
    timeoutMs: 30_000,
    intervalMs: 100,
    description: `gateway /readyz reporting ${what} down`,
  });
  await Promise.race([
    ctx.load.until((d) => d.failedAttemptCount >= failedBefore + 3),
    // A rate too low to fail three uploads in this time still gets a real outage.
    new Promise((r) => setTimeout(r, 5000).unref()),
  ]);
}

/** SIGKILL of a worker while it holds messages; restarted once its backlog has grown. */
export function killWorker(app: Worker) {
  return async (ctx: FaultContext): Promise<void> => {
    const { stack } = ctx;
    const durable = stack.ns.topology.consumerName(CONSUMER_OF[app]);
    await strikePoint(ctx);
    const holding = await waitFor(
      async () => (await stack.consumers()).find((c) => c.name === durable && c.ackPending > 0),
      { timeoutMs: 60_000, intervalMs: 20, description: `${app} holding messages` },
    );
    const pendingAtKill = holding.pending;
    await stack.killApp(app);
    const down = performance.now();
    ctx.note('killed', app);
    ctx.note('held', holding.ackPending);
    // Down until work has piled up behind it (or nothing more is coming).
    await waitFor(
      async () =>
        ctx.load.submitted >= ctx.plan.jobs ||
        (await stack.consumers()).some((c) => c.name === durable && c.pending >= pendingAtKill + 10),
      { timeoutMs: 60_000, intervalMs: 100, description: `a backlog on ${durable} while ${app} is down` },
    );
    stack.startApp(app);
    await stack.waitForWorker(app);
    ctx.note('down', `${((performance.now() - down) / 1000).toFixed(1)}s`);
  };
}

/** SIGKILL of the gateway mid-upload; restarted once clients have seen it gone. */
export async function killGateway(ctx: FaultContext): Promise<void> {
  const { stack, load } = ctx;
  await strikePoint(ctx);
  const failedBefore = load.failedAttemptCount;
  await stack.killApp('gateway');
  const down = performance.now();
  ctx.note('killed', 'gateway');
  await load.until((d) => d.failedAttemptCount >= failedBefore + 5);
  stack.startApp('gateway');
  await waitFor(async () => (await fetch(`${stack.baseUrl}/readyz`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 100,
    description: 'gateway ready again',
  });
  ctx.note('down', `${((performance.now() - down) / 1000).toFixed(1)}s`);
}

/** nats-server stopped and started again on the same port and store. */
export async function restartNats(ctx: FaultContext): Promise<void> {
  const { stack } = ctx;
  await strikePoint(ctx);
  const [node] = stack.nats.nodes;
  if (!node) throw new Error('no NATS node');
  await node.stop();
  const down = performance.now();
  await untilNoticed(ctx, (c) => c.nats !== undefined && c.nats !== 'ok', 'NATS');
  await node.start();
  ctx.note('down', `${((performance.now() - down) / 1000).toFixed(1)}s`);
  await stack.waitUntilReady();
}

/**
 * PostgreSQL fast shutdown (sessions terminated) and start, as an operator's restart does; with
 * `minDownMs`, an outage that outlasts a message's whole retry budget.
 */
export function restartPostgres(options: { minDownMs?: number } = {}) {
  return async (ctx: FaultContext): Promise<void> => {
    const { stack } = ctx;
    await strikePoint(ctx);
    await stack.pg.stop();
    const down = performance.now();
    await untilNoticed(ctx, (c) => c.database !== undefined && c.database !== 'ok', 'PostgreSQL');
    const rest = (options.minDownMs ?? 0) - (performance.now() - down);
    // The length of the outage is the fault itself.
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    await stack.pg.start();
    ctx.note('down', `${((performance.now() - down) / 1000).toFixed(1)}s`);
    await stack.waitUntilReady();
  };
}

async function terminalJobs(stack: ChaosStack): Promise<number> {
  const { rows } = await stack.sql.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM jobs WHERE status NOT IN ('queued', 'running')",
  );
  return rows[0]?.n ?? 0;
}

/**
 * SIGKILL of the node leading the jobs stream. It stays dead until every job has been submitted and
 * a share of them has finished on the two survivors, then it restarts (as its supervisor would) and
 * must catch up. On NATS 2.9.10 about a third of new ephemeral consumers are placed on the dead
 * peer and their creation times out, and every object-store read creates one: the survivors work,
 * but slowly, so waiting for all jobs with the node dead would take minutes.
 */
export async function killStreamLeader(ctx: FaultContext): Promise<void> {
  const { stack, load, plan } = ctx;
  await strikePoint(ctx);
  const info = await stack.jsm.streams.info(stack.ns.topology.jobsStream);
  const leader = info.cluster?.leader;
  if (!leader) throw new Error('the jobs stream reports no cluster leader: is it replicated?');
  const node = stack.nats.node(leader);
  const doneBefore = await terminalJobs(stack);
  await node.kill();
  ctx.note('killed', `nats:${leader}`);
  const killedAt = performance.now();
  const next = await waitFor(
    async () => {
      const i = await stack.jsm.streams.info(stack.ns.topology.jobsStream);
      return i.cluster?.leader && i.cluster.leader !== leader ? i.cluster.leader : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, description: 'a new jobs stream leader' },
  );
  ctx.note('new_leader', next);
  ctx.note('election', `${((performance.now() - killedAt) / 1000).toFixed(1)}s`);

  const degradedTarget = Math.min(30, Math.ceil(plan.jobs / 4));
  await load.until((d) => d.submitted >= plan.jobs);
  const doneDegraded = await waitFor(
    async () => {
      const done = (await terminalJobs(stack)) - doneBefore;
      return done >= degradedTarget ? done : undefined;
    },
    { timeoutMs: 10 * 60_000, intervalMs: 500, description: `${degradedTarget} jobs finished on two nodes` },
  );
  ctx.note('done_on_two_nodes', doneDegraded);
  ctx.note('down', `${((performance.now() - killedAt) / 1000).toFixed(1)}s`);
  await node.start();
  await waitFor(
    async () => {
      const i = await stack.jsm.streams.info(stack.ns.topology.jobsStream);
      return i.cluster?.replicas?.find((r) => r.name === leader)?.current === true;
    },
    { timeoutMs: 120_000, intervalMs: 500, description: `${leader} caught up with the jobs stream` },
  );
}
