import { loadConfig, type AppConfig } from '@quarry/config';
import { topology } from '@quarry/contracts';
import { connectToNats, provisionJetStream } from '@quarry/messaging';
import { findMigrationsDir, runMigrations } from '@quarry/migrations';
import { createPrismaClient, TenantsRepository } from '@quarry/persistence';
import { createLogger, type Logger } from '@quarry/telemetry';

/**
 * Operator commands, run by `npm start`/`npm test` set-up and by deploy jobs — never by app replicas
 * at boot: `migrate` (database), `provision` (JetStream streams, consumers, bucket), `api-key`.
 */
const usage = `usage: quarry-ops <migrate | provision | setup | api-key <tenant> <key>>`;

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
    await provisionJetStream(nc, t, {
      ackWaitMs: config.delivery.ackWaitMs,
      maxDeliver: config.delivery.maxDeliver,
      duplicateWindowMs: config.delivery.duplicateWindowMs,
      eventsMaxAgeMs: config.streams.eventsMaxAgeMs,
      dlqMaxAgeMs: config.streams.dlqMaxAgeMs,
      replicas: config.streams.replicas,
      // Room for several replicas; each replica's own pulls stay bounded by its concurrency.
      maxAckPending: {
        ingestDocument: config.workers.ingestConcurrency * 8,
        indexDocument: config.workers.analysisConcurrency * 8,
        analyzeJob: config.workers.analysisConcurrency * 8,
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

async function apiKey(
  config: AppConfig,
  logger: Logger,
  tenant: string | undefined,
  key: string | undefined,
) {
  if (!tenant || !key || key.length < 16)
    throw new Error(`${usage}\n(the key must be at least 16 characters)`);
  const prisma = createPrismaClient({ databaseUrl: config.database.url, poolMax: 1 });
  try {
    const { tenantId } = await new TenantsRepository(prisma).ensureTenantWithKey(tenant, key);
    logger.info({ tenant, tenantId }, 'API key stored (hashed)');
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
      case 'api-key':
        await apiKey(config, logger, args[0], args[1]);
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
