import { OpenAiStandIn, waitFor, type ChatCall, type StandInReply } from '@quarry/testing';
import { jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import type { AnalysisJob, Citation } from './analyses-fixture';
import { QuarryStack } from './stack';

// A long report survives its worker. Sixty small documents of ten kinds, a model (an OpenAI-compatible server on
// loopback, spoken to by the real openai client) that takes its time over each document's relevance, and the stack's
// consumers with an ack_wait of one second, the least the configuration allows, so that every report below runs many
// times longer than the server waits for an ack:
// - killed with SIGKILL while scoring, the report resumes on redelivery from the documents it had kept in
//   analysis_items, asking the model only about the others, and ends succeeded with citations of real chunks, having
//   gone retrieving → scoring → writing;
// - left alone, a report of ten seconds is delivered once: the consumer's working() heartbeats hold the message, also
//   through a write-up the model takes 2.5 s over, during which nothing else touches the message.
// Embeddings come from the same server (a vector per text from its hash): the documents are indexed in seconds and
// the question's embedding, the one thing a report's retrieving step waits on, can be held until the test has seen
// that step, instead of hoping to poll inside a few milliseconds.

const ACK_WAIT_MS = 1000;
const EMBEDDING_DIM = 32;
const DOCUMENT_COUNT = 60;
const UPLOAD_SIZE = 10;
/** How long the model takes over one document's relevance: in the kill test, and in the heartbeat test. */
const SCORE_MS = 200;
const SCORE_MS_HEARTBEAT = 120;
/** The heartbeat test's write-up: more than twice the ack wait with no item between to reset the timer. */
const WRITE_MS_HEARTBEAT = 2500;
/** The kill comes once this many documents are scored (and before the last). */
const KILL_AFTER = 10;

const QUESTION = 'What did the lighthouse keeper log about gales and waves near the harbour?';
const SUBJECT = /lighthouse keeper/i;

const TOPICS: { slug: string; title: string; lines: string[] }[] = [
  {
    slug: 'bakery',
    title: 'Bakery order',
    lines: [
      'Forty sourdough loaves are to be baked before dawn on Friday.',
      'The rye flour arrived late, so the baker used spelt for the morning rolls.',
      'Croissants need cold butter and dough rested overnight in the cellar.',
    ],
  },
  {
    slug: 'orchard',
    title: 'Orchard notes',
    lines: [
      'The pear trees blossomed a week early after the warm spell in April.',
      'Codling moth traps were hung on every third apple tree along the wall.',
      'Windfall apples go to the cider press, the best ones to the market stall.',
    ],
  },
  {
    slug: 'railway',
    title: 'Railway timetable change',
    lines: [
      'The 07:42 stopping service to Ashford now calls at Westenhanger as well.',
      'Engineering works close the line between the junction and the viaduct on Sundays.',
      'Replacement buses leave from the station forecourt ten minutes before each train.',
    ],
  },
  {
    slug: 'chess',
    title: 'Chess club minutes',
    lines: [
      'The club agreed to buy six new clocks and a demonstration board.',
      'The junior section meets on Tuesdays and plays rapid games only.',
      'A simultaneous exhibition against the county champion is planned for March.',
    ],
  },
  {
    slug: 'bees',
    title: 'Beekeeping diary',
    lines: [
      'The second hive was requeened after the old queen stopped laying.',
      'Varroa counts on the sticky board stayed below three mites a day.',
      'Forty pounds of heather honey were extracted and left to settle in buckets.',
    ],
  },
  {
    slug: 'library',
    title: 'Library notice',
    lines: [
      'The reading room opens at nine and closes at half past five on weekdays.',
      'Overdue loans are charged twenty pence a day, capped at five pounds.',
      'The local history collection moves to the first floor in the summer.',
    ],
  },
  {
    slug: 'bicycle',
    title: 'Bicycle repair sheet',
    lines: [
      'The rear derailleur hanger was bent and had to be straightened before indexing the gears.',
      'New brake pads were fitted and the cables trimmed and capped.',
      'The tubeless tyres were resealed with fresh sealant and pumped to two bar.',
    ],
  },
  {
    slug: 'choir',
    title: 'Choir rehearsal plan',
    lines: [
      'Altos and tenors rehearse the Magnificat separately for the first half hour.',
      'The conductor wants the final chord held for four full bars.',
      'Scores for the spring concert are handed out at the door and must be returned.',
    ],
  },
  {
    slug: 'pottery',
    title: 'Pottery class handout',
    lines: [
      'Wedge the clay thoroughly to drive out air before centring it on the wheel.',
      'Bisque firing reaches about nine hundred degrees in the electric kiln.',
      'Glazes are dipped, never brushed, and the foot ring is wiped clean.',
    ],
  },
  {
    slug: 'allotment',
    title: 'Allotment society letter',
    lines: [
      'Plot rents rise by four pounds next year to pay for the new water troughs.',
      'Bonfires are allowed only on the first Saturday of each month.',
      'The shared shed has a new padlock; the code is given out at the meeting.',
    ],
  },
];

/** Sixty documents: ten kinds, their sentences in turn, a reference of their own, and every ninth one (from the
 * fifth) with a sentence from the lighthouse keeper's log, which is what the question asks about. */
function corpus(): { name: string; text: string; subject: boolean }[] {
  return Array.from({ length: DOCUMENT_COUNT }, (_, i) => {
    const topic = TOPICS[i % TOPICS.length]!;
    const turn = Math.floor(i / TOPICS.length);
    const lines = [...topic.lines.slice(turn % 3), ...topic.lines.slice(0, turn % 3)];
    const subject = i % 9 === 4;
    if (subject) {
      lines.splice(
        1,
        0,
        `The lighthouse keeper logged a gale of force ${7 + (i % 4)} and waves of ${2 + (i % 5)} metres near the harbour.`,
      );
    }
    return {
      name: `${topic.slug}-${String(i).padStart(2, '0')}.txt`,
      text: `${topic.title} no. ${i + 1}\n\n${lines.join(' ')} Filed under reference Q-${1000 + i * 37}.`,
      subject,
    };
  });
}

/** A unit vector per text from its hash: the same text always gets the same vector. */
function vectorFor(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const raw = Array.from({ length: EMBEDDING_DIM }, (_, i) => (digest[i % digest.length]! - 127.5) / 128);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((x) => x / norm);
}

/** The document a relevance request is about: the worker writes `Document "<filename>":` before its passages. */
function scoredFile(call: ChatCall): string | undefined {
  if (call.responseFormat?.json_schema?.name !== 'relevance') return undefined;
  return /Document "([^"]+)"/.exec(call.prompt)?.[1];
}

const scoredFiles = (calls: readonly ChatCall[]): string[] =>
  calls.map(scoredFile).filter((f): f is string => f !== undefined);

const reportCalls = (calls: readonly ChatCall[]): ChatCall[] =>
  calls.filter((c) => c.responseFormat?.json_schema?.name === 'report');

function counts(names: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of names) m.set(n, (m.get(n) ?? 0) + 1);
  return m;
}

interface Observation {
  status: string;
  step: string;
  done: number;
  total: number;
}

/** Polls an analysis as a client would, keeping every answer, until it ends (or the test stops it). */
class ProgressWatch {
  readonly seen: Observation[] = [];
  readonly ended: Promise<AnalysisJob>;
  private stopped = false;

  constructor(
    private readonly stack: QuarryStack,
    private readonly id: string,
    timeoutMs: number,
  ) {
    this.ended = this.poll(Date.now() + timeoutMs);
    // A test that failed before awaiting it leaves no unhandled rejection behind.
    this.ended.catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  private async poll(deadline: number): Promise<AnalysisJob> {
    while (!this.stopped && Date.now() < deadline) {
      const r = await this.stack.request<AnalysisJob>('GET', `/v1/analyses/${this.id}`);
      if (r.status !== 200) throw new Error(`GET /v1/analyses/${this.id} answered ${r.status}`);
      const { step = '', done = -1, total = -1 } = r.body.progress;
      this.seen.push({ status: r.body.status, step, done, total });
      if (['succeeded', 'failed', 'cancelled'].includes(r.body.status)) return r.body;
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    throw new Error(
      `analysis ${this.id} did not end${this.stopped ? ' before the test stopped watching' : ''}`,
    );
  }

  get latest(): Observation | undefined {
    return this.seen[this.seen.length - 1];
  }

  /** Whether an answer from `from` on showed the job running in this step. */
  sawSince(from: number, step: string): boolean {
    return this.seen.slice(from).some((o) => o.status === 'running' && o.step === step);
  }
}

/** The analysis's own steps as seen while it ran, each run of polls in one step collapsed to one entry. */
function stepRuns(seen: readonly Observation[]): { step: string; dones: number[]; totals: number[] }[] {
  const runs: { step: string; dones: number[]; totals: number[] }[] = [];
  // 'analyze' is the job's step before the analysis reports one of its own and after it ended.
  for (const o of seen.filter((s) => s.status === 'running' && s.step !== 'analyze')) {
    const last = runs[runs.length - 1];
    if (last?.step === o.step) {
      last.dones.push(o.done);
      last.totals.push(o.total);
    } else runs.push({ step: o.step, dones: [o.done], totals: [o.total] });
  }
  return runs;
}

interface ReportResult {
  method: string;
  documents: { documentId: string; filename: string; score: number; reason: string; citations: Citation[] }[];
  report: string;
  usage: { calls: number };
}

describe('a long report: SIGKILL while scoring, and heartbeats past the ack wait', () => {
  const docs = corpus();
  const subjectFiles = docs.filter((d) => d.subject).map((d) => d.name);
  let stack: QuarryStack;
  let llm: OpenAiStandIn;
  let db: Client;
  /** The analysis being watched, and whether its retrieving and writing wait until the watch has seen them. */
  let watch: ProgressWatch | undefined;
  let holdSteps = false;
  let scoreMs = SCORE_MS;
  let writeMs = 0;

  /** Holds a reply of the model until the test has seen the job in `step` (in an answer after the request came). */
  const heldUntilSeen = async (step: string): Promise<void> => {
    if (!holdSteps) return;
    const from = watch?.seen.length ?? 0;
    await waitFor(() => watch?.sawSince(from, step), {
      timeoutMs: 20_000,
      intervalMs: 20,
      description: `the test to see step ${step}`,
    });
  };

  const model = async (call: ChatCall): Promise<StandInReply> => {
    const name = call.responseFormat?.json_schema?.name;
    if (name === 'relevance') {
      // Relevance from what the worker showed of the document: its passages, after the question.
      const passages = call.prompt.slice(call.prompt.indexOf('Document "'));
      const relevant = SUBJECT.test(passages);
      return {
        content: {
          relevance: relevant ? 0.9 : 0.1,
          reason: relevant ? "quotes the lighthouse keeper's log" : 'about something else',
        },
        delayMs: scoreMs,
      };
    }
    if (name === 'report') {
      await heldUntilSeen('writing');
      // Names the documents the worker gave it as relevant (`Document n: "file" (relevance 0.90; …)`).
      const named = [...call.prompt.matchAll(/^Document \d+: "([^"]+)" \(relevance ([\d.]+)/gm)]
        .filter((m) => Number(m[2]) >= 0.5)
        .map((m) => m[1]);
      return {
        content: { report: `The lighthouse keeper's log of gales is quoted in ${named.join(', ')}.` },
        ...(writeMs > 0 ? { delayMs: writeMs } : {}),
      };
    }
    return { status: 400, body: { error: { message: `unexpected request ${String(name)}` } } };
  };

  beforeAll(async () => {
    llm = await OpenAiStandIn.start({
      chat: model,
      embeddings: async (call) => {
        // The question's embedding is what a report's retrieving step waits on.
        if (call.input.length === 1 && call.input[0] === QUESTION) await heldUntilSeen('retrieving');
        return { vectors: call.input.map(vectorFor) };
      },
    });
    stack = await QuarryStack.start(
      'reportdur',
      {
        LLM_BASE_URL: llm.baseUrl,
        LLM_API_KEY: 'sk-e2e',
        LLM_MODEL: 'stand-in-model',
        LLM_TIMEOUT_MS: '30000',
        EMBEDDING_PROVIDER: 'openai',
        OPENAI_BASE_URL: llm.baseUrl,
        OPENAI_API_KEY: 'sk-e2e',
        EMBEDDING_MODEL: 'stand-in-embeddings',
        EMBEDDING_DIM: String(EMBEDDING_DIM),
      },
      { ackWaitMs: ACK_WAIT_MS },
    );
    db = new Client({ connectionString: stack.db.url });
    await db.connect();
    const uploads = [];
    for (let i = 0; i < docs.length; i += UPLOAD_SIZE) {
      const upload = await stack.upload(
        docs.slice(i, i + UPLOAD_SIZE).map((d) => ({
          name: d.name,
          bytes: new TextEncoder().encode(d.text),
          type: 'text/plain',
        })),
      );
      expect(upload.status).toBe(202);
      uploads.push(upload.body.id);
    }
    for (const id of uploads) expect((await stack.waitForTerminal(id)).status).toBe('succeeded');
  }, 120_000);

  afterEach(() => watch?.stop());

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    await llm?.close();
  });

  /** The consumer of the analysis worker's analyze commands (analyses go on the interactive lane). */
  const analyzeConsumer = async (): Promise<ConsumerInfo> => {
    const jsm = await jetstreamManager(stack.ns.nc);
    return jsm.consumers.info(stack.ns.topology.jobsStream, stack.ns.topology.consumerName('analyzeJob'));
  };

  const startReport = async (): Promise<string> => {
    const res = await stack.request<AnalysisJob>('POST', '/v1/analyses', {
      json: { type: 'report', question: QUESTION, maxDocuments: DOCUMENT_COUNT },
    });
    expect(res.status).toBe(202);
    return res.body.id;
  };

  /** The documents whose scoring a job has kept, by filename. */
  const keptFiles = async (jobId: string): Promise<string[]> =>
    (
      await db.query<{ filename: string }>(
        `SELECT d.filename FROM analysis_items a JOIN documents d ON d.id::text = a.item
         WHERE a.job_id = $1 ORDER BY d.filename`,
        [jobId],
      )
    ).rows.map((r) => r.filename);

  /** The worker's log lines about one job: its deliveries and how each ended. */
  const workerLog = (jobId: string): { msg: string; delivery?: number }[] =>
    readFileSync(stack.apps['analysis-worker'].logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes(jobId))
      .map((line) => JSON.parse(line) as { msg: string; jobId?: string; delivery?: number })
      .filter((l) => l.jobId === jobId);

  /** Every citation names a chunk of its document on its page, and quotes that chunk's text and the page's. */
  const expectRealCitations = async (citations: Citation[]): Promise<void> => {
    expect(citations.length).toBeGreaterThan(0);
    const rows = await db.query<{
      id: string;
      document_id: string;
      page_number: number;
      chunk: string;
      page: string;
    }>(
      `SELECT c.id, c.document_id, c.page_number, c.text AS chunk, p.text AS page
       FROM chunks c JOIN pages p ON p.document_id = c.document_id AND p.page_number = c.page_number
       WHERE c.id = ANY($1::uuid[])`,
      [[...new Set(citations.map((c) => c.chunkId))]],
    );
    const chunks = new Map(rows.rows.map((r) => [r.id, r]));
    const flat = (text: string) => text.replace(/\s+/g, ' ');
    for (const c of citations) {
      const chunk = chunks.get(c.chunkId);
      expect({ chunk: c.chunkId, documentId: chunk?.document_id, page: chunk?.page_number }).toEqual({
        chunk: c.chunkId,
        documentId: c.documentId,
        page: c.page,
      });
      expect(c.quote.length).toBeGreaterThan(0);
      expect(flat(chunk?.chunk ?? '')).toContain(c.quote);
      expect(flat(chunk?.page ?? '')).toContain(c.quote);
    }
  };

  it('resumes a report killed while scoring: no kept document is scored again, and it ends with real citations', async () => {
    holdSteps = true;
    scoreMs = SCORE_MS;
    writeMs = 0;
    const callsBefore = llm.chatCalls.length;
    const id = await startReport();
    const w = (watch = new ProgressWatch(stack, id, 90_000));

    const partway = await waitFor(
      () => {
        const o = w.latest;
        return o?.status === 'running' && o.step === 'scoring' && o.done >= KILL_AFTER && o.done < o.total
          ? o
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 10, description: `scoring past ${KILL_AFTER} documents` },
    );
    await stack.apps['analysis-worker'].kill();
    const killedAt = w.seen.length;
    // What the killed delivery had kept, read once nothing can add to it; and the model's calls until then.
    const kept = await keptFiles(id);
    const callsAtKill = llm.chatCalls.length;
    expect(kept.length).toBeGreaterThanOrEqual(partway.done);
    expect(kept.length).toBeLessThan(partway.total);
    stack.apps['analysis-worker'].start();

    const job = await w.ended;
    expect(job.status).toBe('succeeded');
    // Two claims: the killed delivery's and the one that finished it. (NATS 2.9 may hand the restarted worker the
    // message twice at once; the second copy waits for the first's run and finds the job ended.)
    expect(job.attempts).toBe(2);

    // Seen while it ran: retrieving → scoring, the kill, the redelivery's retrieving → scoring → writing.
    const runs = stepRuns(w.seen);
    expect(runs.map((r) => r.step)).toEqual(['retrieving', 'scoring', 'retrieving', 'scoring', 'writing']);
    const beforeKill = stepRuns(w.seen.slice(0, killedAt));
    expect(beforeKill.map((r) => r.step)).toEqual(['retrieving', 'scoring']);
    const total = partway.total;
    const scoring = runs.filter((r) => r.step === 'scoring');
    for (const run of scoring) {
      expect(new Set(run.totals)).toEqual(new Set([total]));
      // done never goes back, and rises across polls within each delivery's scoring.
      expect(run.dones).toEqual([...run.dones].sort((a, b) => a - b));
      expect(Math.max(...run.dones)).toBeGreaterThan(Math.min(...run.dones));
    }
    // The redelivery's scoring starts from what the killed one kept, not from zero.
    expect(Math.min(...scoring[1]!.dones)).toBeGreaterThanOrEqual(kept.length);
    expect(Math.min(...scoring[1]!.dones)).toBeGreaterThanOrEqual(Math.max(...scoring[0]!.dones));

    // The model's scoring calls: the kept documents were asked once, before the kill, and never again; the
    // redelivery asked about every other candidate once. Only the document in hand at the kill may be asked twice.
    const before = counts(scoredFiles(llm.chatCalls.slice(callsBefore, callsAtKill)));
    const after = scoredFiles(llm.chatCalls.slice(callsAtKill));
    for (const file of kept) expect([file, before.get(file)]).toEqual([file, 1]);
    expect([...before.keys()].filter((f) => !kept.includes(f)).length).toBeLessThanOrEqual(1);
    expect(after.filter((f) => kept.includes(f))).toEqual([]);
    expect(after.length).toBe(new Set(after).size);
    expect(after.length).toBe(total - kept.length);
    expect(reportCalls(llm.chatCalls.slice(callsBefore))).toHaveLength(1);

    // One kept item per candidate, and every uploaded document was a candidate (maxDocuments allows them all).
    const items = await keptFiles(id);
    expect(items).toHaveLength(total);
    expect(total).toBe(DOCUMENT_COUNT);
    const result = job.result as unknown as ReportResult;
    expect(result.method).toBe('llm');
    expect(result.documents.map((d) => d.filename).sort()).toEqual(items);
    expect([...new Set([...kept, ...after])].sort()).toEqual(items);
    // Each document's call counted once in the usage, however often it was asked; and the write-up.
    expect(result.usage.calls).toBe(total + 1);

    // The model's relevance carried into the ranking and the write-up.
    const top = result.documents.slice(0, subjectFiles.length);
    expect(top.map((d) => d.filename).sort()).toEqual([...subjectFiles].sort());
    expect(new Set(top.map((d) => d.score))).toEqual(new Set([0.9]));
    for (const file of subjectFiles) expect(result.report).toContain(file);
    for (const d of result.documents.slice(subjectFiles.length))
      expect(result.report).not.toContain(d.filename);
    await expectRealCitations(result.documents.flatMap((d) => d.citations));
    // The subject's documents are cited where they quote the log.
    for (const d of top) expect(d.citations.some((c) => SUBJECT.test(c.quote))).toBe(true);

    // The worker's own account: the killed delivery said nothing, and the analysis was done once.
    expect(workerLog(id).filter((l) => l.msg === 'analysis done')).toHaveLength(1);
  }, 90_000);

  it('holds one delivery through a report ten times the ack wait: the heartbeats, not luck', async () => {
    holdSteps = false;
    watch = undefined;
    scoreMs = SCORE_MS_HEARTBEAT;
    writeMs = WRITE_MS_HEARTBEAT;
    await stack.waitForWorker('analysis-worker');
    // Nothing of the test before still held (its message acked), so what moves below is this report's.
    const consumerBefore = await waitFor(
      async () => {
        const info = await analyzeConsumer();
        return info.num_ack_pending === 0 && info.num_pending === 0 ? info : undefined;
      },
      { timeoutMs: 10_000, description: 'no analyze message outstanding' },
    );
    // The server's ack wait, not only the worker's setting: what it redelivers by.
    expect(consumerBefore.config.ack_wait).toBe(ACK_WAIT_MS * 1_000_000);
    const callsBefore = llm.chatCalls.length;

    const id = await startReport();
    const job = await stack.waitForTerminal(id, 90_000);
    expect(job.status).toBe('succeeded');
    // One claim of the job (a redelivery to another worker would have claimed it again).
    expect(job.attempts).toBe(1);
    const { startedAt, finishedAt } = job as unknown as { startedAt: string; finishedAt: string };
    const ranMs = Date.parse(finishedAt) - Date.parse(startedAt);
    expect(ranMs).toBeGreaterThan(8 * ACK_WAIT_MS);

    // The server delivered the analyze message once: its consumer's delivery sequence moved by one, and nothing
    // is pending or was redelivered once the worker acked.
    const consumerAfter = await waitFor(
      async () => {
        const info = await analyzeConsumer();
        return info.num_ack_pending === 0 ? info : undefined;
      },
      { timeoutMs: 10_000, description: 'the analyze message acked' },
    );
    expect(consumerAfter.delivered.consumer_seq - consumerBefore.delivered.consumer_seq).toBe(1);
    expect(consumerAfter.delivered.stream_seq).toBeGreaterThan(consumerBefore.delivered.stream_seq);
    expect(consumerAfter.num_redelivered).toBe(0);

    // Every candidate scored once, the write-up asked once.
    const result = job as unknown as { result: ReportResult };
    const scored = scoredFiles(llm.chatCalls.slice(callsBefore));
    expect(scored).toHaveLength(DOCUMENT_COUNT);
    expect(new Set(scored).size).toBe(DOCUMENT_COUNT);
    expect(result.result.documents).toHaveLength(DOCUMENT_COUNT);
    expect(reportCalls(llm.chatCalls.slice(callsBefore))).toHaveLength(1);
    expect(await keptFiles(id)).toHaveLength(DOCUMENT_COUNT);

    // The worker's account: one delivery, which finished it.
    const lines = workerLog(id);
    expect(lines.filter((l) => l.msg === 'analysis done')).toMatchObject([{ delivery: 1 }]);
    expect(lines.filter((l) => (l.delivery ?? 1) !== 1)).toEqual([]);
  }, 90_000);
});
