import { uuidv7, type ErrorInfo } from '@quarry/contracts';
import type { OpenDocumentCommand, OutboxRow, RedriveResult, StalledJob } from '@quarry/persistence';
import { createLogger, QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/testing';
import { StuckJobSweeper } from './stuck-job-sweeper';
import type { WorkQueue } from '@quarry/messaging';

// The sweeper's decisions, with the database and the stream faked. The repositories publish what they commit
// (their after-commit port), so the sweeper's part ends with the repository calls.

const logger = createLogger({ level: 'silent', pretty: false, app: 't' });

const outboxRow = (msgId: string): OutboxRow => ({
  id: msgId,
  tenantId: null,
  jobId: null,
  subject: 's',
  msgId,
  payload: {},
  headers: {},
});

class Fakes {
  jobs: StalledJob[] = [];
  documents = new Map<string, OpenDocumentCommand[]>();
  redriveResult: RedriveResult = { outcome: 'redriven', redrives: 1, outbox: [outboxRow('r1')] };
  readonly redrives: { jobId: string; lost: string[]; max: number }[] = [];
  readonly failed: { documentId: string; error: ErrorInfo }[] = [];
  /** Jobs settleJob was asked to end; whether it ends them. */
  readonly settled: string[] = [];
  settleEnds = true;
  readonly metrics = new QuarryMetrics({ app: 'gateway', processMetrics: false });
  /** seq → still in the stream; a missing seq throws (NATS away). */
  readonly queued = new Map<number, boolean>();

  readonly store: {
    findStalledJobs: (stall: number, limit: number, after?: { id: string }) => Promise<StalledJob[]>;
    openDocumentCommands: (jobId: string) => Promise<OpenDocumentCommand[]>;
    redrive: (
      jobId: string,
      lost: Pick<OpenDocumentCommand, 'documentId'>[],
      max: number,
    ) => Promise<RedriveResult>;
    settleJob: (jobId: string) => Promise<boolean>;
  } = {
    findStalledJobs: () => Promise.resolve(this.jobs),
    openDocumentCommands: (jobId: string) => Promise.resolve(this.documents.get(jobId) ?? []),
    redrive: (jobId: string, lost: Pick<OpenDocumentCommand, 'documentId'>[], max: number) => {
      this.redrives.push({ jobId, lost: lost.map((d) => d.documentId), max });
      return Promise.resolve(this.redriveResult);
    },
    settleJob: (jobId: string) => {
      this.settled.push(jobId);
      return Promise.resolve(this.settleEnds);
    },
  };
  readonly pipeline = {
    failDocument: (work: { documentId: string }, error: ErrorInfo) => {
      this.failed.push({ documentId: work.documentId, error });
      return Promise.resolve([outboxRow(`failed-${work.documentId}`)]);
    },
  };
  readonly probe: Pick<WorkQueue, 'isQueued'> = {
    isQueued: (seq) => {
      const q = this.queued.get(seq);
      return q === undefined ? Promise.reject(new Error('nats away')) : Promise.resolve(q);
    },
  };
  sweeper(maxRedrives = 3) {
    return new StuckJobSweeper(
      this.store,
      this.pipeline,
      this.probe,
      { stallAfterMs: 1000, maxRedrives },
      logger,
      this.metrics,
    );
  }

  async scrape(): Promise<PromText> {
    return PromText.parse(await this.metrics.metrics());
  }

  job(documents: OpenDocumentCommand[], redrives = 0): StalledJob {
    const job: StalledJob = {
      id: uuidv7(),
      tenantId: uuidv7(),
      status: 'queued',
      redrives,
      since: new Date(0),
      acceptingDocuments: false,
    };
    this.jobs.push(job);
    this.documents.set(job.id, documents);
    return job;
  }
}

const doc = (latest: OpenDocumentCommand['latest'], status: OpenDocumentCommand['status'] = 'queued') => ({
  documentId: uuidv7(),
  status,
  command:
    status === 'queued' || status === 'extracting' ? ('ingestDocument' as const) : ('indexDocument' as const),
  latest,
});
const sent = (seq: number | null) => ({
  outboxId: String(seq),
  msgId: `m-${seq}`,
  sent: true,
  publishedSeq: seq,
});

describe('StuckJobSweeper', () => {
  it('leaves a job alone whose commands are still in the work queue or not yet published', async () => {
    const f = new Fakes();
    f.queued.set(7, true);
    const job = f.job([doc(sent(7)), doc({ outboxId: '8', msgId: 'm-8', sent: false, publishedSeq: null })]);

    const report = await f.sweeper().sweep();

    expect(report.jobs).toEqual([{ jobId: job.id, decision: 'waiting', lostDocuments: 0 }]);
    expect(f.redrives).toEqual([]);
  });

  it('re-drives the documents whose command is gone, no row, or unknown sequence', async () => {
    const f = new Fakes();
    f.queued.set(1, true);
    f.queued.set(2, false);
    const waiting = doc(sent(1));
    const gone = doc(sent(2), 'extracted');
    const noRow = doc(null);
    const unknownSeq = doc(sent(null), 'indexing');
    const job = f.job([waiting, gone, noRow, unknownSeq], 1);

    const report = await f.sweeper(3).sweep();

    expect(report.jobs).toEqual([{ jobId: job.id, decision: 'redriven', lostDocuments: 3 }]);
    expect(f.redrives).toEqual([
      { jobId: job.id, lost: [gone.documentId, noRow.documentId, unknownSeq.documentId], max: 3 },
    ]);
    expect(f.failed).toEqual([]);
    // One command re-published (the fake's redrive returns one row).
    expect((await f.scrape()).sum('quarry_stalled_jobs_redriven_total')).toBe(1);
  });

  it('fails the lost documents with `stalled` once the job’s re-drives are exhausted', async () => {
    const f = new Fakes();
    f.queued.set(1, true);
    f.queued.set(2, false);
    const waiting = doc(sent(1));
    const lost = doc(sent(2));
    const job = f.job([waiting, lost], 3);
    f.redriveResult = { outcome: 'exhausted', redrives: 3 };

    const report = await f.sweeper(3).sweep();

    expect(report.jobs).toEqual([{ jobId: job.id, decision: 'failed_stalled', lostDocuments: 1 }]);
    // Only the lost document: the waiting one will still be delivered.
    expect(f.failed).toEqual([
      {
        documentId: lost.documentId,
        error: { code: 'stalled', message: expect.stringContaining('3 re-drive') as unknown },
      },
    ]);
    expect((await f.scrape()).sum('quarry_stalled_jobs_redriven_total')).toBe(0);
  });

  it('does nothing when the job moved on while the sweeper looked', async () => {
    const f = new Fakes();
    f.redriveResult = { outcome: 'moved_on' };
    const job = f.job([doc(null)]);

    const report = await f.sweeper().sweep();

    expect(report.jobs).toEqual([{ jobId: job.id, decision: 'moved_on', lostDocuments: 1 }]);
    expect(f.failed).toEqual([]);
  });

  it('does not take a command for lost when the stream cannot be asked, and goes on with other jobs', async () => {
    const f = new Fakes();
    const unreachable = f.job([doc(sent(99))]);
    const lost = f.job([doc(null)]);
    const sweeper = f.sweeper();

    const report = await sweeper.sweep();

    expect(report.jobs).toEqual([
      { jobId: unreachable.id, decision: 'error', lostDocuments: 0 },
      { jobId: lost.id, decision: 'redriven', lostDocuments: 1 },
    ]);
    expect(f.redrives.map((r) => r.jobId)).toEqual([lost.id]);
    expect(sweeper.stats).toMatchObject({ sweeps: 1, errors: 1, redrivenDocuments: 1 });
  });

  it('pages through a long list of stalled jobs across sweeps, then starts over', async () => {
    const f = new Fakes();
    const jobs = [f.job([]), f.job([]), f.job([])];
    const asked: (string | undefined)[] = [];
    f.store.findStalledJobs = (_stall: number, limit: number, after?: { id: string }) => {
      asked.push(after?.id);
      const from = after ? jobs.findIndex((j) => j.id === after.id) + 1 : 0;
      return Promise.resolve(jobs.slice(from, from + limit));
    };
    const sweeper = new StuckJobSweeper(
      f.store,
      f.pipeline,
      f.probe,
      { stallAfterMs: 1000, maxRedrives: 3, batchSize: 2 },
      logger,
      f.metrics,
    );

    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await sweeper.sweep()).jobs.map((j) => j.jobId));

    expect(asked).toEqual([undefined, jobs[1]!.id, undefined]);
    expect(seen).toEqual([[jobs[0]!.id, jobs[1]!.id], [jobs[2]!.id], [jobs[0]!.id, jobs[1]!.id]]);
  });

  it('ends an active job without open documents, as its last document would have', async () => {
    const f = new Fakes();
    const job = f.job([]);
    const sweeper = f.sweeper();
    expect((await sweeper.sweep()).jobs).toEqual([{ jobId: job.id, decision: 'settled', lostDocuments: 0 }]);
    expect(f.settled).toEqual([job.id]);
    expect(sweeper.stats.settledJobs).toBe(1);
    expect(f.redrives).toEqual([]);
  });

  it('reports one it could not end (ended by another path meanwhile) without re-driving anything', async () => {
    const f = new Fakes();
    f.settleEnds = false;
    const job = f.job([]);
    expect((await f.sweeper().sweep()).jobs).toEqual([
      { jobId: job.id, decision: 'no_open_documents', lostDocuments: 0 },
    ]);
    expect(f.redrives).toEqual([]);
  });

  it("leaves a crawl's job with nothing open to its crawler", async () => {
    const f = new Fakes();
    const job = f.job([]);
    job.acceptingDocuments = true;
    expect((await f.sweeper().sweep()).jobs).toEqual([
      { jobId: job.id, decision: 'waiting_for_crawler', lostDocuments: 0 },
    ]);
    expect(f.settled).toEqual([]);
  });
});
