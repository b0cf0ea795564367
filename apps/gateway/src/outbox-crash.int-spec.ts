import { commandEnvelope, uuidv7 } from '@quarry/contracts';
import { JetStreamPublisher, OutboxRelay } from '@quarry/messaging';
import {
  createPrismaClient,
  JobsRepository,
  OutboxRepository,
  TenantsRepository,
  type PrismaClient,
} from '@quarry/persistence';
import { createLogger } from '@quarry/telemetry';
import {
  createTestDatabase,
  createTestNamespace,
  RecordingAfterCommit,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { jetstreamManager } from '@nats-io/jetstream';

// The outbox on the real PostgreSQL and JetStream: a crash between the commit and the publish delays
// the message until the relay's sweep, never loses it; a publish repeated after a crash (published,
// then died before marking the row sent) is dropped by JetStream's duplicate window.

describe('outbox across a crash', () => {
  let db: TestDatabase;
  let ns: TestNamespace;
  let prisma: PrismaClient;
  let relay: OutboxRelay;
  let tenantId: string;

  beforeAll(async () => {
    [db, ns] = await Promise.all([createTestDatabase('outboxcrash'), createTestNamespace('outboxcrash')]);
    prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
    tenantId = (await new TenantsRepository(prisma).ensureTenantWithKey('crash', 'crash-test-key-0123456789'))
      .tenantId;
    relay = new OutboxRelay(
      new OutboxRepository(prisma),
      new JetStreamPublisher(ns.nc),
      createLogger({ level: 'silent', pretty: false, app: 't' }),
      { intervalMs: 50, graceMs: 0 },
    );
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await ns?.cleanup();
    await db?.drop();
  });

  const messagesOnIngestSubject = async () => {
    const jsm = await jetstreamManager(ns.nc);
    const info = await jsm.streams.info(ns.topology.jobsStream, {
      subjects_filter: ns.topology.commandSubject('ingestDocument'),
    });
    return info.state.subjects?.[ns.topology.commandSubject('ingestDocument')] ?? 0;
  };

  it('publishes, exactly once, what a crashed writer committed but never published', async () => {
    const jobId = uuidv7();
    const documentId = uuidv7();
    // The writer "crashes" right after its commit: its after-commit port never gets to publish.
    const crashed = new RecordingAfterCommit();
    const { outbox } = await new JobsRepository(prisma, crashed).createIngestJob({
      id: jobId,
      tenantId,
      idempotencyKey: null,
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      traceId: '1'.repeat(32),
      documents: [
        {
          id: documentId,
          filename: 'a.txt',
          claimedContentType: null,
          sha256: 'a'.repeat(64),
          sizeBytes: 1,
          blobKey: 'k',
        },
      ],
      outbox: [commandEnvelope(ns.topology, 'ingestDocument', { v: 1, jobId, tenantId, documentId })],
    });
    expect(outbox).toHaveLength(1);
    expect(crashed.outbox).toEqual(outbox);
    // Committed, nothing published.
    expect(await messagesOnIngestSubject()).toBe(0);

    expect(await relay.sweep()).toBe(1);
    expect(await messagesOnIngestSubject()).toBe(1);
    const row = await prisma.outbox.findFirstOrThrow({ where: { jobId } });
    expect(row.sentAt).toBeInstanceOf(Date);

    // Published but died before marking the row sent: the sweep publishes it again, JetStream drops it.
    await prisma.outbox.update({ where: { id: row.id }, data: { sentAt: null } });
    expect(await relay.sweep()).toBe(1);
    expect(await messagesOnIngestSubject()).toBe(1);
    expect((await prisma.outbox.findFirstOrThrow({ where: { jobId } })).sentAt).toBeInstanceOf(Date);
  });
});
