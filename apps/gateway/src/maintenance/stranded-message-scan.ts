import { Commands, LANES, type CommandName, type Topology } from '@quarry/contracts';
import type { WorkQueue } from '@quarry/messaging';
import type { MaintenanceRepository } from '@quarry/persistence';
import type { Logger } from '@quarry/telemetry';
import type { MaxDeliveriesWatcher } from '../dead-letters/max-deliveries-watcher';
import { strandedMessages } from './stranded-messages';

export interface StrandedScanOptions {
  /** A job with a sign of life more recent than this is being worked on (the sweeper's STALL_AFTER_MS). */
  quietAfterMs: number;
  /** Messages read per consumer and scan. */
  limit?: number;
}

/** What one scan dead-lettered. */
export interface StrandedScanReport {
  deadLettered: { consumer: string; streamSeq: number }[];
}

/**
 * Finds the messages stranded at a consumer's delivery limit whose MAX_DELIVERIES advisory nobody heard (it is core
 * NATS: one sent while no gateway listened is gone), and dead-letters them as the advisory's watcher would (ADR 33).
 * The leader runs it with every sweep. For each consumer of the jobs stream JetStream tells how many messages it has
 * out; the delivered messages still in the stream beyond that are stranded, and the database says which they
 * likely are (see strandedMessages).
 */
export class StrandedMessageScan {
  readonly stats = { scans: 0, deadLettered: 0 };

  constructor(
    private readonly topology: Topology,
    private readonly queue: Pick<WorkQueue, 'strandedCandidates'>,
    private readonly store: Pick<MaintenanceRepository, 'commandFacts'>,
    private readonly rescuer: Pick<MaxDeliveriesWatcher, 'deadLetter'>,
    private readonly options: StrandedScanOptions,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async run(): Promise<StrandedScanReport> {
    const report: StrandedScanReport = { deadLettered: [] };
    for (const name of Object.keys(Commands) as CommandName[]) {
      for (const lane of LANES) {
        const consumer = this.topology.consumerName(name, lane);
        try {
          report.deadLettered.push(...(await this.scan(consumer)));
        } catch (error) {
          // One consumer's trouble must not keep the others from being scanned.
          this.logger.warn({ err: error, consumer }, 'could not scan a consumer for stranded messages');
        }
      }
    }
    this.stats.scans++;
    this.stats.deadLettered += report.deadLettered.length;
    return report;
  }

  private async scan(consumer: string): Promise<StrandedScanReport['deadLettered']> {
    const found = await this.queue.strandedCandidates(consumer, this.options.limit ?? 1000);
    if (!found || found.messages.length <= found.ackPending) return [];
    const named = found.messages.map((m) => ({ seq: m.seq, ...commandRef(m.data) }));
    const facts = await this.store.commandFacts(
      named.flatMap((n) => (n.jobId ? [{ jobId: n.jobId, documentId: n.documentId }] : [])),
    );
    const seqs = strandedMessages({
      ackPending: found.ackPending,
      messages: named.map((n) => {
        const f = n.jobId ? facts.get(n.documentId ?? n.jobId) : undefined;
        return { seq: n.seq, attempts: f?.attempts ?? null, quietSince: f?.quietSince ?? null };
      }),
      quietAfterMs: this.options.quietAfterMs,
      now: this.now(),
    });
    const done: StrandedScanReport['deadLettered'] = [];
    for (const streamSeq of seqs) {
      const outcome = await this.rescuer.deadLetter({
        consumer,
        streamSeq,
        deliveries: found.maxDeliver,
        reason:
          `no outcome after ${found.maxDeliver} deliveries: stranded at the delivery limit of consumer ` +
          `${consumer}, found by the periodic scan (its MAX_DELIVERIES advisory was not heard)`,
      });
      if (outcome === 'dead_lettered') done.push({ consumer, streamSeq });
    }
    if (done.length > 0) {
      this.logger.error(
        { consumer, streamSeqs: done.map((d) => d.streamSeq), ackPending: found.ackPending },
        'stranded messages found by the scan and dead-lettered',
      );
    }
    return done;
  }
}

/** The job and document a command's body names; nulls for a body that is not one of ours. */
function commandRef(data: Uint8Array): { jobId: string | null; documentId: string | null } {
  try {
    const body = JSON.parse(new TextDecoder().decode(data)) as { jobId?: unknown; documentId?: unknown };
    const uuid = (v: unknown) =>
      typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)
        ? v
        : null;
    return { jobId: uuid(body.jobId), documentId: uuid(body.documentId) };
  } catch {
    return { jobId: null, documentId: null };
  }
}
