import { loadConfig, type AppConfig } from '@quarry/config';
import { topology } from '@quarry/contracts';
import { connectToNats, provisionJetStream } from '@quarry/messaging';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createPrismaClient } from '@quarry/persistence';
import { createLogger, type Logger } from '@quarry/telemetry';
import { API_KEY_USAGE, runApiKeyCommand, runTenantCommand, TENANT_USAGE } from './tenant-commands';

/**
 * Operator commands, run by `npm start`/`npm test` set-up and by deploy jobs — never by app replicas
 * at boot: `migrate` (database), `provision` (JetStream streams, consumers, bucket), `tenant`, `api-key`.
 */
const usage = `usage: quarry-ops <migrate | provision | setup | ${TENANT_USAGE} | ${API_KEY_USAGE}>`;

async function migrate(config: AppConfig, logger: Logger): Promise<void> {
  const { applied } = await runMigrations({
    databaseUrl: config.database.url,
    migrationsDir: findMigrationsDir(),
    log: (m: string) => logger.info(m),
  });
  logger.info(
    { applied: applied.length },
    applied.length ? `applied ${applied.join(', ')}` : 'database schema up to date',
  );
}

async function provision(config: AppConfig, logger: Logger): Promise<void> {
  const nc = await connectToNats(
    { url: config.nats.url, name: 'quarry-ops', connectTimeoutMs: config.nats.connectTimeoutMs },
    logger,
  );
  try {
    const t = topology(config.namespace);
    // Room for four replicas' look-ahead of messages waiting in the fair share (ADR 34).
    const lookaheadRoom = config.delivery.fairLookahead * 4;
    await provisionJetStream(nc, t, {
      ackWaitMs: config.delivery.ackWaitMs,
      maxDeliver: config.delivery.maxDeliver,
      duplicateWindowMs: config.delivery.duplicateWindowMs,
      eventsMaxAgeMs: config.streams.eventsMaxAgeMs,
      dlqMaxAgeMs: config.streams.dlqMaxAgeMs,
      replicas: config.streams.replicas,
      // Room for several replicas; each replica's own pulls stay bounded by its concurrency.
      maxAckPending: {
        ingestDocument: config.workers.ingestConcurrency * 8 + lookaheadRoom,
        indexDocument: config.workers.analysisConcurrency * 8 + lookaheadRoom,
        analyzeJob: config.workers.analysisConcurrency * 8 + lookaheadRoom,
      },
    });
    logger.info(
      { streams: [t.jobsStream, t.eventsStream, t.dlqStream], bucket: t.blobBucket },
      'JetStream provisioned',
    );
  } finally {
    await nc.drain();
  }
}

/** Results go to stdout as plain lines (a new key, a tenant id, a table), so scripts can capture them. */
const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function tenant(config: AppConfig, args: string[]): Promise<void> {
  const prisma = createPrismaClient({ databaseUrl: config.database.url, poolMax: 1 });
  try {
    await runTenantCommand(prisma, args, print);
  } finally {
    await prisma.$disconnect();
  }
}

async function apiKey(config: AppConfig, logger: Logger, args: string[]) {
  const prisma = createPrismaClient({ databaseUrl: config.database.url, poolMax: 1 });
  try {
    const { kind, tenantId } = await runApiKeyCommand(prisma, args, print);
    // The original form logs as it always did; the others print their result instead.
    if (kind === 'ensure') logger.info({ tenant: args[0], tenantId }, 'API key stored (hashed)');
  } finally {
    await prisma.$disconnect();
  }
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const config = loadConfig();
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, app: 'ops' });
  try {
    switch (command) {
      case 'migrate':
        await migrate(config, logger);
        break;
      case 'provision':
        await provision(config, logger);
        break;
      case 'setup':
        await migrate(config, logger);
        await provision(config, logger);
        break;
      case 'tenant':
        await tenant(config, args);
        break;
      case 'api-key':
        await apiKey(config, logger, args);
        break;
      default:
        throw new Error(usage);
    }
  } catch (error) {
    logger.fatal({ err: error }, error instanceof Error ? error.message : String(error));
    logger.flush();
    process.exitCode = 1;
  }
}

void main();
