import { topology } from '@quarry/contracts';
import type { StoredCommand, StrandedCandidates, WorkQueue } from '@quarry/messaging';
import type { CommandFacts, MaintenanceRepository } from '@quarry/persistence';
import pino from 'pino';
import { StrandedMessageScan } from './stranded-message-scan';
import { strandedMessages, type UnackedMessage } from './stranded-messages';

const now = new Date('2026-12-08T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const msg = (seq: number, attempts: number | null, quietMs: number | null): UnackedMessage => ({
  seq,
  attempts,
  quietSince: quietMs === null ? null : ago(quietMs),
});

describe('strandedMessages', () => {
  it('finds none while every message found is one the consumer has out', () => {
    expect(
      strandedMessages({
        ackPending: 2,
        messages: [msg(1, 5, 1e6), msg(2, 1, 1e6)],
        quietAfterMs: 1000,
        now,
      }),
    ).toEqual([]);
    expect(strandedMessages({ ackPending: 0, messages: [], quietAfterMs: 1000, now })).toEqual([]);
    // Acknowledged between the consumer's count and the read: fewer found than out.
    expect(strandedMessages({ ackPending: 3, messages: [msg(1, 5, 1e6)], quietAfterMs: 1000, now })).toEqual(
      [],
    );
  });

  it('takes every message found when the consumer has nothing out, however lively its job', () => {
    expect(
      strandedMessages({
        ackPending: 0,
        messages: [msg(4, 3, 10), msg(9, null, null)],
        quietAfterMs: 1000,
        now,
      }),
    ).toEqual([4, 9]);
  });

  it('otherwise takes as many as are surely stranded, the likeliest first, only among quiet jobs', () => {
    const messages = [
      msg(1, 1, 60_000), // a first delivery hanging in a worker
      msg(2, 3, 60_000), // every delivery claimed: stranded at the limit
      msg(3, 3, 10), // a worker reported progress a moment ago
    ];
    expect(strandedMessages({ ackPending: 2, messages, quietAfterMs: 1000, now })).toEqual([2]);
    expect(strandedMessages({ ackPending: 1, messages, quietAfterMs: 1000, now })).toEqual([2, 1]);
  });

  it('puts a message the database knows nothing of first, then the quietest of equal attempts', () => {
    const messages = [msg(1, 2, 5_000), msg(2, 2, 50_000), msg(3, null, null)];
    expect(strandedMessages({ ackPending: 1, messages, quietAfterMs: 1000, now })).toEqual([3, 2]);
  });
});

// The scan over a scripted stream and database: which consumers it asks, what it dead-letters, and that one
// consumer's failure does not stop the others.
const t = topology('qt_scan');
const encode = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));
const stored = (seq: number, body: unknown): StoredCommand => ({
  subject: t.commandSubject('ingestDocument'),
  seq,
  data: encode(body),
  header: () => undefined,
});
const jobId = '01a24300-0000-7000-8000-000000000001';
const docA = '01a24300-0000-7000-8000-00000000000a';
const docB = '01a24300-0000-7000-8000-00000000000b';

function scanWith(found: Record<string, StrandedCandidates | Error>, facts: Map<string, CommandFacts>) {
  const asked: string[] = [];
  const deadLettered: { consumer: string; streamSeq: number; deliveries: number; reason: string }[] = [];
  const queue: Pick<WorkQueue, 'strandedCandidates'> = {
    strandedCandidates: (consumer) => {
      asked.push(consumer);
      const f = found[consumer];
      return f instanceof Error ? Promise.reject(f) : Promise.resolve(f ?? null);
    },
  };
  const store: Pick<MaintenanceRepository, 'commandFacts'> = { commandFacts: () => Promise.resolve(facts) };
  const scan = new StrandedMessageScan(
    t,
    queue,
    store,
    {
      deadLetter: (s) => {
        deadLettered.push(s);
        return Promise.resolve('dead_lettered');
      },
    },
    { quietAfterMs: 1000 },
    pino({ level: 'silent' }),
    () => now,
  );
  return { scan, asked, deadLettered };
}

describe('StrandedMessageScan', () => {
  it('asks every consumer of the jobs stream and dead-letters what is stranded, naming the scan', async () => {
    const ingest = t.consumerName('ingestDocument');
    const facts = new Map<string, CommandFacts>([
      [docA, { attempts: 3, jobStatus: 'running', quietSince: ago(60_000) }],
      [docB, { attempts: 1, jobStatus: 'running', quietSince: ago(60_000) }],
    ]);
    const { scan, asked, deadLettered } = scanWith(
      {
        [t.consumerName('indexDocument', 'bulk')]: new Error('nats away'),
        [ingest]: {
          consumer: ingest,
          ackPending: 1,
          maxDeliver: 4,
          truncated: false,
          messages: [
            stored(7, { v: 1, jobId, documentId: docB }),
            stored(8, { v: 1, jobId, documentId: docA }),
          ],
        },
      },
      facts,
    );
    const report = await scan.run();
    expect(asked).toHaveLength(6);
    expect(report.deadLettered).toEqual([{ consumer: ingest, streamSeq: 8 }]);
    expect(deadLettered).toEqual([
      {
        consumer: ingest,
        streamSeq: 8,
        deliveries: 4,
        reason: expect.stringMatching(/found by the periodic scan/) as string,
      },
    ]);
    expect(scan.stats).toEqual({ scans: 1, deadLettered: 1 });
  });

  it('reads nothing of the database when nothing can be stranded', async () => {
    const ingest = t.consumerName('ingestDocument');
    const { scan, deadLettered } = scanWith(
      { [ingest]: { consumer: ingest, ackPending: 2, maxDeliver: 4, truncated: false, messages: [] } },
      new Map(),
    );
    expect((await scan.run()).deadLettered).toEqual([]);
    expect(deadLettered).toEqual([]);
  });
});
