// Documents: what the ingest worker adds to the native tools it drives (tesseract, pdftoppm, pdftotext) on
// the same pages, how much memory it and its tools take on a long scan, and how much the gateway's memory
// grows while a large upload streams through it. The built apps run as their own processes, on a
// database and NATS namespace of their own; no analysis worker runs, so only the ingest step is timed.
import type { Logger } from '@quarry/telemetry';
import {
  AppProcess,
  createTestDatabase,
  createTestNamespace,
  freePort,
  makeScannedPdf,
  makeTestPdf,
  renderTextPng,
  waitFor,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { PDFDocument } from 'pdf-lib';
import { Client } from 'pg';
import type { BenchOptions } from './args';
import { clockTicks, startCpuProbe, statusBytes, statusField } from './cpu';
import { startBenchGateway } from './http';
import { ratio, runPool } from './stats';

const run = promisify(execFile);

/** The corpus the pages' text comes from, relative to the repository; read at run time, never copied in. */
export const SCIFACT_CORPUS = '../shared/corpora/beir-scifact/corpus.jsonl';
const OCR_DPI = 300;
/** The long scan's pages carry a few lines each at this resolution, to keep building and reading it to minutes. */
const SCAN_DPI = 200;
const WARMUP_PAGES = 2;
// The product's default ack wait; the namespace's consumers are provisioned with the same value the workers
// heartbeat against (the test default of 3 s would redeliver a long OCR mid-way if a heartbeat were late).
const ACK_WAIT_MS = 30_000;
const MIB = 1024 * 1024;
const MEMORY_SAMPLE_MS = 250;
const UPLOAD_SAMPLE_MS = 100;
const SCAN_MEMORY_TARGET_MB = 500;
const UPLOAD_GROWTH_TARGET_MB = 50;
const OCR_RATIO_TARGET = 0.9;
const TEXT_RATIO_TARGET = 0.8;

/** One timed pass of one path over all the pages. */
export interface RoundSample {
  round: number;
  /** Wall clock: the whole raw batch, or the ingest step's started_at → finished_at. */
  ms: number;
  pagesPerSec: number;
  /**
   * CPU per page: of the tools the bench started (raw), or of the ingest worker and every process under it
   * (Quarry), from /proc utime + stime of the living and cutime + cstime of the reaped.
   */
  cpuMsPerPage: number;
  /** Share of both cores busy during the pass, everyone included (the machine is shared). */
  machineBusy: number;
}

export interface PathResult {
  /** What ran, in words. */
  what: string;
  rounds: RoundSample[];
  /** Medians over the rounds. */
  pagesPerSec: number;
  pagesPerSecPerCore: number;
  cpuMsPerPage: number;
  /** (max − min) / median of the rounds' pages/s: how much the rounds disagree. */
  spread: number;
}

export interface ThroughputComparison {
  key: 'ocrPng' | 'ocrPdf' | 'textLayer' | 'textLayerLong';
  measurement: string;
  pages: number;
  /** Documents per upload (one job). */
  files: number;
  quarry: PathResult;
  raw: PathResult;
  /** Median Quarry pages/s / median raw pages/s. */
  ratio: number;
  /** Quarry / raw within each round (the two passes ran back to back). */
  roundRatios: number[];
  target: number;
  met: boolean;
  /** What came out, to see that both paths did the same work. */
  output: {
    quarryPages: number;
    quarryChars: number;
    rawChars: number;
    meanOcrConfidence: number | null;
    pageMethods: Record<string, number>;
  };
}

export interface TreeProcess {
  pid: number;
  name: string;
  rssMb: number;
}

export interface ScanMemoryResult {
  pages: number;
  dpi: number;
  pageContent: string;
  pdfBytes: number;
  buildMs: number;
  status: string;
  errorCode: string | null;
  workerRssAtRestMb: number;
  treeRssAtRestMb: number;
  peakWorkerRssMb: number;
  /** The kernel's own peak (VmHWM, reset before the upload), which catches what falls between samples. */
  peakWorkerHwmMb: number | null;
  /** Sum of VmRSS of the worker and all its descendants at one sample (shared pages counted in each). */
  peakTreeRssMb: number;
  /** Sum of Pss at one sample: shared pages split between their users. */
  peakTreePssMb: number;
  peakTreeProcesses: number;
  treeAtPeak: TreeProcess[];
  samples: number;
  sampleIntervalMs: number;
  /** The ingest step's started_at → finished_at. */
  ingestMs: number;
  pagesPerSec: number;
  storedPages: number;
  meanOcrConfidence: number | null;
  target: number;
  met: boolean;
  logDir: string;
}

export interface BigUploadResult {
  megabytes: number;
  bytes: number;
  status: number;
  baselineRssMb: number;
  peakRssMb: number;
  growthMb: number;
  /** VmHWM after the upload, reset at the baseline: the peak between samples too. */
  peakHwmMb: number | null;
  growthHwmMb: number | null;
  rssAfterMb: number;
  seconds: number;
  mbPerSec: number;
  samples: number;
  sampleIntervalMs: number;
  target: number;
  met: boolean;
  gatewayLog: string;
}

export interface DocumentsSummaryRow {
  measurement: string;
  quarry: string;
  raw: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
}

export interface DocumentsResult {
  /** Ratios first: one row per measurement, as the Markdown table shows it. */
  summary: DocumentsSummaryRow[];
  cores: number;
  corpus: { path: string; abstracts: number };
  settings: {
    ingestConcurrency: number;
    ocrConcurrency: number;
    lane: string;
    ocrRounds: number;
    textRounds: number;
    warmupPages: number;
  };
  comparisons: ThroughputComparison[];
  scanMemory?: ScanMemoryResult;
  bigUpload?: BigUploadResult;
  /** Where the apps' logs are, relative to the repository. */
  logDirs: string[];
  problems: string[];
}

interface UploadFile {
  name: string;
  type: string;
  bytes: Uint8Array;
}

interface IngestOutcome {
  jobId: string;
  windowMs: number;
  documents: number;
  notExtracted: { filename: string; status: string; code: string | null }[];
  pages: number;
  chars: number;
  meanOcrConfidence: number | null;
  pageMethods: Record<string, number>;
}

/** A gateway and an ingest worker, built, as their own processes, on a fresh database and NATS namespace. */
interface IngestStack {
  readonly worker: AppProcess;
  readonly gateway: AppProcess;
  readonly logDir: string;
  /** POST /v1/documents with the files as one job; resolves with the job id, or throws unless 202. */
  upload(files: UploadFile[]): Promise<string>;
  waitForIngest(jobId: string, timeoutMs: number): Promise<IngestOutcome>;
  documentStatus(jobId: string): Promise<{ status: string; code: string | null } | undefined>;
  close(): Promise<void>;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / MIB, 1);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

// ---------------------------------------------------------------------------------------------------------------
// /proc: CPU and memory of a process and of the tree under it.

/** The pid of a started app (an app without one was never started: a bug in the bench). */
function pidOf(app: AppProcess): number {
  if (app.pid === undefined) throw new Error(`${app.app} has not been started`);
  return app.pid;
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, ms. */
  ownCpuMs: number;
  /** cutime + cstime: reaped children, ms. */
  childrenCpuMs: number;
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // The process is gone (it exited between listing /proc and reading it): it has no stat to give.
    return undefined;
  }
  // Fields after the parenthesised command name: state [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1000 / clockTicks();
  return {
    pid: Number(stat.slice(0, stat.indexOf(' '))),
    ppid: Number(fields[1]),
    ownCpuMs: (Number(fields[11]) + Number(fields[12])) * tick,
    childrenCpuMs: (Number(fields[13]) + Number(fields[14])) * tick,
  };
}

/** The pids of `root` and every process under it, from the ppid links in /proc/<pid>/stat. */
function processTree(root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s === undefined) continue;
    if (s.pid === root) rootStat = s;
    const siblings = children.get(s.ppid);
    if (siblings) siblings.push(s);
    else children.set(s.ppid, [s]);
  }
  if (rootStat === undefined) return [];
  const tree: ProcStat[] = [rootStat];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]?.pid ?? -1) ?? []));
  return tree;
}

/**
 * CPU of a process tree so far: each living member's own time and the time of the children it reaped. A member
 * that exits moves its time into its parent's cutime, so the difference of two readings counts it once.
 */
function treeCpuMs(root: number): number {
  return processTree(root).reduce((sum, p) => sum + p.ownCpuMs + p.childrenCpuMs, 0);
}

/** CPU of the tools the bench ran and reaped (tesseract, pdftoppm, pdftotext). */
function reapedChildrenCpuMs(): number {
  return readStat('self')?.childrenCpuMs ?? 0;
}

/** What a process is, from its command line: a Node process by its script (a parser host), a tool by its binary. */
function processName(pid: number): string {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // Gone between listing and reading.
    return statusField(pid, 'Name') ?? '?';
  }
  const binary = path.basename(argv[0] ?? '?');
  if (binary !== 'node') return binary;
  const script = argv.slice(1).find((a) => !a.startsWith('-'));
  return script === undefined ? 'node' : `node ${path.basename(script)}`;
}

function pssBytes(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)\s+kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  } catch {
    // Gone, or a kernel without smaps_rollup: its share is unknown and left out.
    return 0;
  }
}

/**
 * Resets the kernel's peak-RSS mark (VmHWM) of a process, so the next reading is the peak since now. Returns
 * false where that is not allowed (another user's process, an old kernel): the peak is then the sampled one only.
 */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    // Not allowed here: the caller reports the sampled peak only.
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs.

interface Abstract {
  title: string;
  text: string;
}

/**
 * The SciFact abstracts, in file order, as plain ASCII: the test PDFs use Helvetica with WinAnsi, which throws on
 * characters outside it, and OCR of Greek letters or symbols would measure tesseract's guesswork instead.
 */
async function loadAbstracts(repoRoot: string): Promise<{ file: string; abstracts: Abstract[] }> {
  const file = path.resolve(repoRoot, SCIFACT_CORPUS);
  if (!existsSync(file)) {
    throw new Error(
      `documents: the BEIR SciFact corpus is missing at ${file} (the pages' text comes from it, read at run time); ` +
        'run on a machine with ../shared/corpora, or pass --skip-documents',
    );
  }
  const ascii = (s: string) =>
    s
      .normalize('NFKD')
      .replace(/[^\x20-\x7e]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  const abstracts: Abstract[] = [];
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const doc = JSON.parse(line) as { title?: string; text?: string };
    const text = ascii(doc.text ?? '');
    if (text.length > 0) abstracts.push({ title: ascii(doc.title ?? ''), text });
  }
  if (abstracts.length < 100) throw new Error(`documents: ${file} has only ${abstracts.length} abstracts`);
  return { file, abstracts };
}

/** A full page: consecutive abstracts (title, text, blank line) from `start`; makeTestPdf drops what overflows. */
function fullPage(abstracts: Abstract[], start: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = abstracts[(start + i) % abstracts.length];
    if (a) lines.push(a.title, a.text, '');
  }
  return lines;
}

/** A few lines: one title and the start of its abstract. */
function shortPage(abstracts: Abstract[], index: number): string[] {
  const a = abstracts[index % abstracts.length];
  return a ? [a.title, a.text.slice(0, 300)] : ['(empty)'];
}

/**
 * makeScannedPdf renders page by page on one core; the pages are rendered in `parallel` slices at once and the
 * slices joined (pdf-lib copies the page images as they are).
 */
async function scannedPdf(pages: string[][], dpi: number, parallel: number): Promise<Uint8Array> {
  const size = Math.ceil(pages.length / Math.max(1, parallel));
  const slices: string[][][] = [];
  for (let i = 0; i < pages.length; i += size) slices.push(pages.slice(i, i + size));
  const parts = await Promise.all(slices.map((slice) => makeScannedPdf(slice, { dpi })));
  if (parts.length === 1 && parts[0]) return parts[0];
  const merged = await PDFDocument.create({ updateMetadata: false });
  for (const bytes of parts) {
    const part = await PDFDocument.load(bytes, { updateMetadata: false });
    for (const page of await merged.copyPages(part, part.getPageIndices())) merged.addPage(page);
  }
  return merged.save();
}

/**
 * Distinct bytes for every upload, so the worker never reuses the pages of identical bytes it has seen (it looks
 * them up by sha256): a PNG gets a tEXt chunk after IHDR, which changes no pixel.
 */
function pngWithNonce(png: Uint8Array, nonce: string): Buffer {
  const bytes = Buffer.from(png);
  const ihdrEnd = 8 + 8 + 13 + 4;
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG: no IHDR first');
  const type = Buffer.from('tEXt', 'latin1');
  const data = Buffer.from(`Comment\0quarry-bench ${nonce}`, 'latin1');
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  type.copy(chunk, 4);
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(Buffer.concat([type, data])), 8 + data.length);
  return Buffer.concat([bytes.subarray(0, ihdrEnd), chunk, bytes.subarray(ihdrEnd)]);
}

/** A PDF gets a comment line after %%EOF, which readers skip. */
function pdfWithNonce(pdf: Uint8Array, nonce: string): Buffer {
  return Buffer.concat([Buffer.from(pdf), Buffer.from(`\n%quarry-bench ${nonce}\n`, 'latin1')]);
}

// ---------------------------------------------------------------------------------------------------------------
// The apps.

async function startIngestStack(
  label: string,
  env: Record<string, string>,
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<IngestStack> {
  const db: TestDatabase = await createTestDatabase(`bench_${label}`);
  let ns: TestNamespace | undefined;
  let pg: Client | undefined;
  const apps: AppProcess[] = [];
  const close = async () => {
    for (const app of apps.reverse()) {
      await app.stop().catch((e: unknown) => logger.warn({ err: e }, `${app.app} stop failed`));
    }
    await pg?.end().catch((e: unknown) => logger.warn({ err: e }, 'pg client end failed'));
    await ns?.cleanup().catch((e: unknown) => logger.warn({ err: e }, 'namespace cleanup failed'));
    await db.drop().catch((e: unknown) => logger.warn({ err: e }, 'database drop failed'));
  };
  try {
    ns = await createTestNamespace(`bench${label}`, { ackWaitMs: ACK_WAIT_MS, maxDeliver: 5 });
    const port = await freePort();
    const metricsPort = await freePort();
    const apiKey = `bench-${randomBytes(12).toString('hex')}`;
    const baseUrl = `http://127.0.0.1:${port}`;
    const logDir = path.join(repoRoot, 'tmp/bench', ns.namespace);
    const common: Record<string, string> = {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      NATS_URL: ns.natsUrl,
      QUARRY_NAMESPACE: ns.namespace,
      HOST: '127.0.0.1',
      PORT: String(port),
      QUARRY_BOOTSTRAP_API_KEY: apiKey,
      // The bench polls its jobs with one key faster than a client may.
      RATE_LIMIT_PER_MINUTE: '100000000',
      RATE_LIMIT_BURST: '100000',
      ACK_WAIT_MS: String(ACK_WAIT_MS),
      MAX_DELIVER: '5',
      METRICS_PORT: String(metricsPort),
      ...env,
    };
    const gateway = new AppProcess('gateway', { ...common, LOG_LEVEL: options.gatewayLogLevel }, logDir);
    const worker = new AppProcess('ingest-worker', { ...common, LOG_LEVEL: 'info' }, logDir);
    const relLogDir = path.relative(repoRoot, logDir);
    progress(`${label}: starting the gateway and the ingest worker (logs: ${relLogDir})`);
    for (const app of [gateway, worker]) {
      app.start();
      apps.push(app);
    }
    const ready = (app: AppProcess, url: string) =>
      waitFor(
        async () => {
          if (!app.running) throw new Error(`${app.app} exited; see ${app.logFile}`);
          return (await fetch(url)).ok;
        },
        { timeoutMs: 60_000, intervalMs: 100, description: `${app.app} (${label}) ready` },
      );
    await ready(gateway, `${baseUrl}/readyz`);
    await ready(worker, `http://127.0.0.1:${metricsPort}/readyz`);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    pg = client;

    const upload = async (files: UploadFile[]): Promise<string> => {
      const form = new FormData();
      for (const f of files) form.append('files', new Blob([Buffer.from(f.bytes)], { type: f.type }), f.name);
      const response = await fetch(`${baseUrl}/v1/documents`, {
        method: 'POST',
        // Above BULK_THRESHOLD_DOCUMENTS files a job goes to the bulk lane (INGEST_BULK_CONCURRENCY, 1 by
        // default); the measurement is of INGEST_CONCURRENCY handlers, so the job asks for the interactive lane.
        headers: { authorization: `Bearer ${apiKey}`, 'quarry-lane': 'interactive' },
        body: form,
      });
      const body = (await response.json()) as { id?: string };
      if (response.status !== 202 || !body.id) {
        throw new Error(
          `upload of ${files.length} file(s) answered ${response.status}; see ${gateway.logFile}`,
        );
      }
      return body.id;
    };

    const waitForIngest = async (jobId: string, timeoutMs: number): Promise<IngestOutcome> => {
      const deadline = performance.now() + timeoutMs;
      let windowMs: number | undefined;
      let last = '';
      while (windowMs === undefined) {
        if (!worker.running) throw new Error(`the ingest worker exited; see ${worker.logFile}`);
        const { rows } = await client.query<{
          done: number;
          total: number;
          window_ms: number | null;
        }>(
          `SELECT done, total,
                  CASE WHEN finished_at IS NULL THEN NULL
                       ELSE extract(epoch FROM finished_at - started_at)::float8 * 1000 END AS window_ms
             FROM job_steps WHERE job_id = $1 AND name = 'ingest'`,
          [jobId],
        );
        const step = rows[0];
        last = step ? `${step.done}/${step.total}` : 'no step';
        if (step && step.total > 0 && step.done >= step.total && step.window_ms !== null) {
          windowMs = step.window_ms;
          break;
        }
        if (performance.now() > deadline) {
          throw new Error(
            `job ${jobId}: ingest step not done after ${timeoutMs} ms (${last}); see ${logDir}`,
          );
        }
        await delay(200);
      }
      const docs = await client.query<{ filename: string; status: string; code: string | null }>(
        `SELECT filename, status::text AS status, error->>'code' AS code FROM documents WHERE job_id = $1`,
        [jobId],
      );
      const pages = await client.query<{
        method: string;
        pages: number;
        chars: string;
        confidence: number | null;
      }>(
        // Characters other than whitespace, counted as the raw tools' output is.
        `SELECT p.method, count(*)::int AS pages,
                sum(length(regexp_replace(p.text, '\\s', '', 'g')))::bigint AS chars,
                avg(p.ocr_confidence)::float8 AS confidence
           FROM pages p JOIN documents d ON d.id = p.document_id
          WHERE d.job_id = $1 GROUP BY p.method`,
        [jobId],
      );
      const ocr = pages.rows.find((r) => r.method === 'ocr');
      return {
        jobId,
        windowMs,
        documents: docs.rows.length,
        notExtracted: docs.rows.filter((d) => d.status !== 'extracted'),
        pages: pages.rows.reduce((a, r) => a + r.pages, 0),
        chars: pages.rows.reduce((a, r) => a + Number(r.chars), 0),
        meanOcrConfidence: ocr?.confidence == null ? null : round(ocr.confidence, 1),
        pageMethods: Object.fromEntries(pages.rows.map((r) => [r.method, r.pages])),
      };
    };

    const documentStatus = async (jobId: string) => {
      const { rows } = await client.query<{ status: string; code: string | null }>(
        `SELECT status::text AS status, error->>'code' AS code FROM documents WHERE job_id = $1 LIMIT 1`,
        [jobId],
      );
      return rows[0];
    };

    return { worker, gateway, logDir: relLogDir, upload, waitForIngest, documentStatus, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements.

interface Pass {
  ms: number;
  cpuMs: number;
  machineBusy: number;
  chars: number;
  outcome?: IngestOutcome;
}

/** Runs `task` over `count` items, `cores` at once, timing the whole batch and the CPU of the tools it reaps. */
async function rawPass(count: number, cores: number, task: (i: number) => Promise<number>): Promise<Pass> {
  const probe = startCpuProbe();
  const cpu0 = reapedChildrenCpuMs();
  let chars = 0;
  const started = performance.now();
  await runPool(count, cores, async (i) => {
    // Not `chars += await …`: that reads `chars` before the await and loses the other task's addition.
    const n = await task(i);
    chars += n;
  });
  const ms = performance.now() - started;
  return { ms, cpuMs: reapedChildrenCpuMs() - cpu0, machineBusy: probe().machineBusy, chars };
}

/** Uploads `files` as one job and waits for its ingest step; the time is the step's, from PostgreSQL. */
async function quarryPass(stack: IngestStack, files: UploadFile[], timeoutMs: number): Promise<Pass> {
  const pid = pidOf(stack.worker);
  const probe = startCpuProbe();
  const cpu0 = treeCpuMs(pid);
  const jobId = await stack.upload(files);
  const outcome = await stack.waitForIngest(jobId, timeoutMs);
  return {
    ms: outcome.windowMs,
    cpuMs: treeCpuMs(pid) - cpu0,
    machineBusy: probe().machineBusy,
    chars: outcome.chars,
    outcome,
  };
}

function toRound(i: number, pass: Pass, pages: number): RoundSample {
  return {
    round: i + 1,
    ms: Math.round(pass.ms),
    pagesPerSec: round((pages * 1000) / pass.ms, 2),
    cpuMsPerPage: round(pass.cpuMs / pages, 2),
    machineBusy: pass.machineBusy,
  };
}

function toPath(what: string, rounds: RoundSample[], cores: number): PathResult {
  const rates = rounds.map((r) => r.pagesPerSec);
  const mid = median(rates);
  return {
    what,
    rounds,
    pagesPerSec: round(mid, 2),
    pagesPerSecPerCore: round(mid / cores, 2),
    cpuMsPerPage: round(median(rounds.map((r) => r.cpuMsPerPage)), 2),
    spread: round((Math.max(...rates) - Math.min(...rates)) / mid, 2),
  };
}

interface ComparisonSpec {
  key: ThroughputComparison['key'];
  measurement: string;
  pages: number;
  /** Documents per measured upload. */
  fileCount: number;
  rounds: number;
  target: number;
  quarryWhat: string;
  rawWhat: string;
  /** Files of the n-th upload (0 = warm-up), each with bytes of its own. */
  files(upload: number): UploadFile[];
  warmupFiles(upload: number): UploadFile[];
  raw(): Promise<Pass>;
  rawWarmup(): Promise<unknown>;
  timeoutMs: number;
}

/** Warm-up of both paths, then rounds alternating which path goes first; medians and their ratio. */
async function compare(
  stack: IngestStack,
  spec: ComparisonSpec,
  cores: number,
  problems: string[],
  progress: (line: string) => void,
): Promise<ThroughputComparison> {
  let uploads = 0;
  progress(`documents: ${spec.measurement}: warm-up`);
  await spec.rawWarmup();
  const warm = await quarryPass(stack, spec.warmupFiles(uploads++), spec.timeoutMs);
  checkOutcome(`${spec.measurement} warm-up`, warm.outcome, problems);

  const quarry: RoundSample[] = [];
  const raw: RoundSample[] = [];
  let quarryOut: IngestOutcome | undefined;
  let rawChars = 0;
  for (let r = 0; r < spec.rounds; r++) {
    const runRaw = async () => {
      const pass = await spec.raw();
      rawChars = pass.chars;
      raw.push(toRound(r, pass, spec.pages));
    };
    const runQuarry = async () => {
      const pass = await quarryPass(stack, spec.files(uploads++), spec.timeoutMs);
      checkOutcome(`${spec.measurement} round ${r + 1}`, pass.outcome, problems);
      quarryOut = pass.outcome;
      quarry.push(toRound(r, pass, spec.pages));
    };
    const order = r % 2 === 0 ? [runRaw, runQuarry] : [runQuarry, runRaw];
    for (const step of order) await step();
    progress(
      `documents: ${spec.measurement}: round ${r + 1}/${spec.rounds}: Quarry ${quarry[r]?.pagesPerSec} pages/s, ` +
        `raw ${raw[r]?.pagesPerSec} pages/s`,
    );
  }
  const q = toPath(spec.quarryWhat, quarry, cores);
  const rw = toPath(spec.rawWhat, raw, cores);
  const value = ratio(q.pagesPerSec, rw.pagesPerSec);
  return {
    key: spec.key,
    measurement: spec.measurement,
    pages: spec.pages,
    files: spec.fileCount,
    quarry: q,
    raw: rw,
    ratio: value,
    roundRatios: quarry.map((x, i) => ratio(x.pagesPerSec, raw[i]?.pagesPerSec ?? NaN)),
    target: spec.target,
    met: value >= spec.target,
    output: {
      quarryPages: quarryOut?.pages ?? 0,
      quarryChars: quarryOut?.chars ?? 0,
      rawChars,
      meanOcrConfidence: quarryOut?.meanOcrConfidence ?? null,
      pageMethods: quarryOut?.pageMethods ?? {},
    },
  };
}

function checkOutcome(what: string, outcome: IngestOutcome | undefined, problems: string[]): void {
  if (!outcome) return;
  for (const d of outcome.notExtracted) {
    problems.push(
      `documents: ${what}: ${d.filename} is ${d.status}${d.code ? ` (${d.code})` : ''}, not extracted`,
    );
  }
}

async function tesseract(image: string): Promise<number> {
  const { stdout } = await run('tesseract', [image, 'stdout', '-l', 'eng', '--psm', '3'], {
    env: { ...process.env, OMP_THREAD_LIMIT: '1' },
    maxBuffer: 64 * MIB,
  });
  return visibleChars(stdout);
}

/** Characters other than whitespace: layout (spaces, line breaks) differs between the tools and the stored pages. */
function visibleChars(text: string): number {
  return text.replace(/\s/g, '').length;
}

async function pdftotext(file: string): Promise<number> {
  const { stdout } = await run('pdftotext', [file, '-'], { maxBuffer: 256 * MIB });
  return visibleChars(stdout);
}

/** One PDF page as the raw baseline reads it: pdftoppm to a PGM, tesseract on it, the image removed. */
async function renderAndOcr(pdf: string, pageNumber: number, dir: string): Promise<number> {
  const prefix = path.join(dir, `raw-${pageNumber}-${randomBytes(3).toString('hex')}`);
  const page = String(pageNumber);
  await run('pdftoppm', ['-r', String(OCR_DPI), '-gray', '-f', page, '-l', page, '-singlefile', pdf, prefix]);
  try {
    return await tesseract(`${prefix}.pgm`);
  } finally {
    await rm(`${prefix}.pgm`, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------

export async function runDocuments(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<DocumentsResult> {
  const cores = os.availableParallelism();
  const { file: corpusFile, abstracts } = await loadAbstracts(repoRoot);
  const problems: string[] = [];
  const logDirs: string[] = [];
  const comparisons: ThroughputComparison[] = [];
  const nonce = (() => {
    const runId = randomBytes(4).toString('hex');
    let n = 0;
    return () => `${runId}-${n++}`;
  })();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-bench-docs-'));
  const result: DocumentsResult = {
    summary: [],
    cores,
    corpus: { path: SCIFACT_CORPUS, abstracts: abstracts.length },
    settings: {
      // The product's default (INGEST_CONCURRENCY unset): one handler more than the cores, so a document's
      // database and blob-store waits overlap another's parsing. OCR still runs OCR_CONCURRENCY (the cores)
      // tesseracts at most; pdftotext runs in its handler, so up to cores + 1 at once.
      ingestConcurrency: cores + 1,
      ocrConcurrency: cores,
      lane: 'interactive (Quarry-Lane header)',
      ocrRounds: options.ocrRounds,
      textRounds: options.textRounds,
      warmupPages: WARMUP_PAGES,
    },
    comparisons,
    logDirs,
    problems,
  };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      logger.error({ err: error }, `documents: ${what} failed`);
      problems.push(`documents: ${what} failed: ${message}`);
      return undefined;
    }
  };
  const workerEnv = {
    OCR_CONCURRENCY: String(cores),
    MAX_FILES_PER_UPLOAD: String(Math.max(options.ocrPages, options.textPdfs, WARMUP_PAGES)),
    MAX_UPLOAD_BYTES: String(1024 * MIB),
  };

  try {
    // ---- Inputs for the throughput comparisons, all built before any app runs.
    const ocrPages = Array.from({ length: options.ocrPages }, (_, i) => fullPage(abstracts, i * 3));
    progress(`documents: rendering ${options.ocrPages} pages at ${OCR_DPI} dpi (PNG, then one scanned PDF)`);
    const pngs: Buffer[] = new Array<Buffer>(ocrPages.length);
    await runPool(ocrPages.length, cores, async (i) => {
      pngs[i] = await renderTextPng(ocrPages[i] ?? [], { dpi: OCR_DPI });
    });
    const pngPaths = await Promise.all(
      pngs.map(async (png, i) => {
        const p = path.join(dir, `page-${String(i + 1).padStart(3, '0')}.png`);
        await writeFile(p, png);
        return p;
      }),
    );
    const ocrPdf = await scannedPdf(ocrPages, OCR_DPI, cores);
    const ocrPdfPath = path.join(dir, 'scan.pdf');
    await writeFile(ocrPdfPath, ocrPdf);
    const warmPdf = await scannedPdf(ocrPages.slice(0, WARMUP_PAGES), OCR_DPI, cores);
    const warmPdfPath = path.join(dir, 'scan-warmup.pdf');
    await writeFile(warmPdfPath, warmPdf);

    const textOffset = options.ocrPages * 3;
    progress(`documents: building ${options.textPdfs} text PDFs of ${options.textPdfPages} pages`);
    const textPdfs: Uint8Array[] = [];
    for (let f = 0; f < options.textPdfs; f++) {
      textPdfs.push(
        await makeTestPdf(
          Array.from({ length: options.textPdfPages }, (_, p) =>
            fullPage(abstracts, textOffset + (f * options.textPdfPages + p) * 3),
          ),
        ),
      );
    }
    const textPaths = await Promise.all(
      textPdfs.map(async (pdf, i) => {
        const p = path.join(dir, `text-${String(i + 1).padStart(3, '0')}.pdf`);
        await writeFile(p, pdf);
        return p;
      }),
    );

    const longCount = Math.max(1, Math.round(options.textPdfs / 4));
    progress(`documents: building ${longCount} text PDFs of ${options.textPdfPages * 4} pages`);
    const longPdfs: Uint8Array[] = [];
    for (let f = 0; f < longCount; f++) {
      longPdfs.push(
        await makeTestPdf(
          Array.from({ length: options.textPdfPages * 4 }, (_, p) =>
            fullPage(abstracts, textOffset + (f * options.textPdfPages * 4 + p) * 3),
          ),
        ),
      );
    }
    const longPaths = await Promise.all(
      longPdfs.map(async (pdf, i) => {
        const p = path.join(dir, `long-${String(i + 1).padStart(3, '0')}.pdf`);
        await writeFile(p, pdf);
        return p;
      }),
    );

    const ocrTimeout = 120_000 + Math.ceil(options.ocrPages / cores) * 30_000;
    const stack = await attempt('starting gateway + ingest worker', () =>
      startIngestStack('docs', workerEnv, options, repoRoot, logger, progress),
    );
    if (stack) {
      logDirs.push(stack.logDir);
      try {
        const png = await attempt('OCR of PNG pages', () =>
          compare(
            stack,
            {
              key: 'ocrPng',
              measurement: `OCR, ${options.ocrPages} PNG pages (one document each), ${OCR_DPI} dpi`,
              pages: options.ocrPages,
              fileCount: options.ocrPages,
              rounds: options.ocrRounds,
              target: OCR_RATIO_TARGET,
              quarryWhat: `one job of ${options.ocrPages} PNG documents through the gateway and the ingest worker`,
              rawWhat: `tesseract <png> stdout -l eng --psm 3, OMP_THREAD_LIMIT=1, ${cores} at once`,
              files: () =>
                pngs.map((b, i) => ({
                  name: `page-${i + 1}.png`,
                  type: 'image/png',
                  bytes: pngWithNonce(b, nonce()),
                })),
              warmupFiles: () =>
                pngs.slice(0, WARMUP_PAGES).map((b, i) => ({
                  name: `warm-${i + 1}.png`,
                  type: 'image/png',
                  bytes: pngWithNonce(b, nonce()),
                })),
              raw: () => rawPass(pngPaths.length, cores, (i) => tesseract(pngPaths[i] ?? '')),
              rawWarmup: () => rawPass(WARMUP_PAGES, cores, (i) => tesseract(pngPaths[i] ?? '')),
              timeoutMs: ocrTimeout,
            },
            cores,
            problems,
            progress,
          ),
        );
        if (png) comparisons.push(png);

        const pdf = await attempt('OCR of a scanned PDF', () =>
          compare(
            stack,
            {
              key: 'ocrPdf',
              measurement: `OCR, the same ${options.ocrPages} pages as one scanned PDF (${OCR_DPI} dpi images)`,
              pages: options.ocrPages,
              fileCount: 1,
              rounds: options.ocrRounds,
              target: OCR_RATIO_TARGET,
              quarryWhat: 'one job of one scanned PDF: text layer check, then each page rendered and OCR’d',
              rawWhat: `per page pdftoppm -r ${OCR_DPI} -gray -f n -l n, then tesseract as above, ${cores} pages at once`,
              files: () => [
                { name: 'scan.pdf', type: 'application/pdf', bytes: pdfWithNonce(ocrPdf, nonce()) },
              ],
              warmupFiles: () => [
                { name: 'scan-warmup.pdf', type: 'application/pdf', bytes: pdfWithNonce(warmPdf, nonce()) },
              ],
              raw: () => rawPass(options.ocrPages, cores, (i) => renderAndOcr(ocrPdfPath, i + 1, dir)),
              rawWarmup: () => rawPass(WARMUP_PAGES, cores, (i) => renderAndOcr(warmPdfPath, i + 1, dir)),
              timeoutMs: ocrTimeout,
            },
            cores,
            problems,
            progress,
          ),
        );
        if (pdf) comparisons.push(pdf);

        // The same pages twice: as many shorter documents and as a quarter as many four times longer, so the
        // report shows what each document costs the worker beside the pages themselves.
        const textRuns = [
          { key: 'textLayer' as const, pdfs: textPdfs, paths: textPaths, pagesEach: options.textPdfPages },
          {
            key: 'textLayerLong' as const,
            pdfs: longPdfs,
            paths: longPaths,
            pagesEach: options.textPdfPages * 4,
          },
        ];
        for (const run of textRuns) {
          const measurement = `Text layer, ${run.pdfs.length} PDFs × ${run.pagesEach} pages`;
          const text = await attempt(`text-layer PDFs (${measurement})`, () =>
            compare(
              stack,
              {
                key: run.key,
                measurement,
                pages: run.pdfs.length * run.pagesEach,
                fileCount: run.pdfs.length,
                rounds: options.textRounds,
                target: TEXT_RATIO_TARGET,
                quarryWhat: `one job of ${run.pdfs.length} born-digital PDFs`,
                rawWhat: `pdftotext <file> -, ${cores} files at once`,
                files: () =>
                  run.pdfs.map((b, i) => ({
                    name: `text-${i + 1}.pdf`,
                    type: 'application/pdf',
                    bytes: pdfWithNonce(b, nonce()),
                  })),
                warmupFiles: () =>
                  run.pdfs.slice(0, WARMUP_PAGES).map((b, i) => ({
                    name: `warm-${i + 1}.pdf`,
                    type: 'application/pdf',
                    bytes: pdfWithNonce(b, nonce()),
                  })),
                raw: () => rawPass(run.paths.length, cores, (i) => pdftotext(run.paths[i] ?? '')),
                rawWarmup: () => rawPass(WARMUP_PAGES, cores, (i) => pdftotext(run.paths[i] ?? '')),
                timeoutMs: 300_000,
              },
              cores,
              problems,
              progress,
            ),
          );
          if (text) comparisons.push(text);
        }
      } finally {
        await stack.close();
      }
    }

    result.scanMemory = await attempt(`memory on a ${options.scanPages}-page scan`, () =>
      measureScanMemory(
        options,
        abstracts,
        cores,
        workerEnv,
        nonce(),
        repoRoot,
        logger,
        progress,
        problems,
        logDirs,
      ),
    );
    result.bigUpload = await attempt(`gateway memory during a ${options.bigUploadMb} MB upload`, () =>
      measureBigUpload(options, repoRoot, logger, progress, problems, logDirs),
    );
  } finally {
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) =>
      logger.warn({ err: e, dir }, 'could not remove the temporary folder'),
    );
  }
  result.summary = summarize(result);
  progress(`documents: corpus ${path.relative(repoRoot, corpusFile)} (${abstracts.length} abstracts)`);
  return result;
}

async function measureScanMemory(
  options: BenchOptions,
  abstracts: Abstract[],
  cores: number,
  workerEnv: Record<string, string>,
  nonce: string,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
  problems: string[],
  logDirs: string[],
): Promise<ScanMemoryResult> {
  const pages = options.scanPages;
  progress(`documents: building a ${pages}-page scanned PDF (${SCAN_DPI} dpi, a few lines a page)`);
  const started = performance.now();
  const pdf = pdfWithNonce(
    await scannedPdf(
      Array.from({ length: pages }, (_, i) => shortPage(abstracts, i)),
      SCAN_DPI,
      cores,
    ),
    nonce,
  );
  const buildMs = Math.round(performance.now() - started);
  progress(`documents: ${pages}-page scan built in ${round(buildMs / 1000)} s, ${mb(pdf.length)} MB`);

  const stack = await startIngestStack('docscan', workerEnv, options, repoRoot, logger, progress);
  logDirs.push(stack.logDir);
  try {
    const pid = pidOf(stack.worker);
    // Let the worker settle after boot before its resting size is read.
    await delay(2000);
    const workerRssAtRest = statusBytes(pid, 'VmRSS');
    const treeRssAtRest = processTree(pid).reduce((a, p) => a + statusBytes(p.pid, 'VmRSS'), 0);
    const hwm = resetPeakRss(pid);

    let peakWorker = 0;
    let peakTree = 0;
    let peakPss = 0;
    let peakProcesses = 0;
    let atPeak: TreeProcess[] = [];
    let samples = 0;
    const sample = () => {
      samples++;
      const tree = processTree(pid);
      let total = 0;
      let pss = 0;
      const members: TreeProcess[] = [];
      for (const p of tree) {
        const rss = statusBytes(p.pid, 'VmRSS');
        total += rss;
        pss += pssBytes(p.pid);
        members.push({
          pid: p.pid,
          name: p.pid === pid ? 'ingest worker' : processName(p.pid),
          rssMb: mb(rss),
        });
      }
      peakWorker = Math.max(peakWorker, statusBytes(pid, 'VmRSS'));
      peakPss = Math.max(peakPss, pss);
      peakProcesses = Math.max(peakProcesses, tree.length);
      if (total > peakTree) {
        peakTree = total;
        atPeak = members;
      }
    };
    const timer = setInterval(sample, MEMORY_SAMPLE_MS);
    let outcome: IngestOutcome | undefined;
    let final: { status: string; code: string | null } | undefined;
    try {
      sample();
      const jobId = await stack.upload([{ name: 'scan-300.pdf', type: 'application/pdf', bytes: pdf }]);
      progress(
        `documents: ${pages}-page scan uploaded; sampling the worker's memory every ${MEMORY_SAMPLE_MS} ms`,
      );
      const deadline = performance.now() + 300_000 + pages * 20_000;
      for (;;) {
        if (!stack.worker.running) throw new Error(`the ingest worker exited; see ${stack.worker.logFile}`);
        final = await stack.documentStatus(jobId);
        if (final && ['extracted', 'failed', 'cancelled'].includes(final.status)) break;
        if (performance.now() > deadline) throw new Error(`the ${pages}-page scan is not extracted in time`);
        await delay(1000);
      }
      sample();
      if (final.status === 'extracted') outcome = await stack.waitForIngest(jobId, 60_000);
      else problems.push(`documents: the ${pages}-page scan is ${final.status} (${final.code ?? 'no code'})`);
    } finally {
      clearInterval(timer);
    }
    const peakHwm = hwm ? statusBytes(pid, 'VmHWM') : 0;
    const ingestMs = Math.round(outcome?.windowMs ?? NaN);
    const treePeakMb = mb(peakTree);
    return {
      pages,
      dpi: SCAN_DPI,
      pageContent:
        'one SciFact title and the first 300 characters of its abstract (about 5 lines of 12-pt text) on a letter ' +
        `page, embedded as a ${SCAN_DPI}-dpi grayscale PNG; the worker renders each page at OCR_DPI (300) for tesseract`,
      pdfBytes: pdf.length,
      buildMs,
      status: final?.status ?? 'unknown',
      errorCode: final?.code ?? null,
      workerRssAtRestMb: mb(workerRssAtRest),
      treeRssAtRestMb: mb(treeRssAtRest),
      peakWorkerRssMb: mb(peakWorker),
      peakWorkerHwmMb: hwm ? mb(peakHwm) : null,
      peakTreeRssMb: treePeakMb,
      peakTreePssMb: mb(peakPss),
      peakTreeProcesses: peakProcesses,
      treeAtPeak: atPeak,
      samples,
      sampleIntervalMs: MEMORY_SAMPLE_MS,
      ingestMs,
      pagesPerSec: round((pages * 1000) / ingestMs, 2),
      storedPages: outcome?.pages ?? 0,
      meanOcrConfidence: outcome?.meanOcrConfidence ?? null,
      target: SCAN_MEMORY_TARGET_MB,
      met: final?.status === 'extracted' && treePeakMb < SCAN_MEMORY_TARGET_MB,
      logDir: stack.logDir,
    };
  } finally {
    await stack.close();
  }
}

async function measureBigUpload(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
  problems: string[],
  logDirs: string[],
): Promise<BigUploadResult> {
  const bytes = options.bigUploadMb * MIB;
  const gateway = await startBenchGateway(
    'docupload',
    { MAX_UPLOAD_BYTES: String(bytes + 64 * MIB) },
    options,
    repoRoot,
    logger,
    progress,
  );
  logDirs.push(path.dirname(gateway.logFile));
  try {
    const pid = gateway.process.pid;
    if (pid === undefined) throw new Error('the gateway has no pid');
    const warm = await gateway.upload();
    if (warm !== 202) throw new Error(`warm-up upload answered ${warm}; see ${gateway.logFile}`);
    await delay(1000);
    const rest: number[] = [];
    for (let i = 0; i < 5; i++) {
      rest.push(statusBytes(pid, 'VmRSS'));
      await delay(UPLOAD_SAMPLE_MS);
    }
    const baseline = median(rest);
    const hwm = resetPeakRss(pid);

    progress(`documents: streaming a ${options.bigUploadMb} MB upload to the gateway`);
    let peak = baseline;
    let samples = 0;
    const timer = setInterval(() => {
      samples++;
      peak = Math.max(peak, statusBytes(pid, 'VmRSS'));
    }, UPLOAD_SAMPLE_MS);
    let status = 0;
    let seconds = NaN;
    try {
      const started = performance.now();
      status = await streamUpload(new URL(gateway.baseUrl), gateway.apiKey, bytes);
      seconds = (performance.now() - started) / 1000;
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, statusBytes(pid, 'VmRSS'));
    const peakHwm = hwm ? statusBytes(pid, 'VmHWM') : 0;
    await delay(1000);
    const after = statusBytes(pid, 'VmRSS');
    if (status !== 202)
      problems.push(`documents: the ${options.bigUploadMb} MB upload answered ${status}, not 202`);
    const growth = mb(peak - baseline);
    return {
      megabytes: options.bigUploadMb,
      bytes,
      status,
      baselineRssMb: mb(baseline),
      peakRssMb: mb(peak),
      growthMb: growth,
      peakHwmMb: hwm ? mb(peakHwm) : null,
      growthHwmMb: hwm ? mb(peakHwm - baseline) : null,
      rssAfterMb: mb(after),
      seconds: round(seconds, 2),
      mbPerSec: round(options.bigUploadMb / seconds, 1),
      samples,
      sampleIntervalMs: UPLOAD_SAMPLE_MS,
      target: UPLOAD_GROWTH_TARGET_MB,
      met: status === 202 && growth < UPLOAD_GROWTH_TARGET_MB,
      gatewayLog: gateway.logFile,
    };
  } finally {
    await gateway.close();
  }
}

/**
 * POST /v1/documents with one file of `bytes` generated on the fly: a 1 MiB block of random bytes written again
 * and again under backpressure, so the bench never holds more than that. Resolves with the status.
 */
async function streamUpload(base: URL, apiKey: string, bytes: number): Promise<number> {
  const boundary = `----quarry-bench-${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const block = randomBytes(MIB);
  const request = http.request({
    host: base.hostname,
    port: base.port,
    path: '/v1/documents',
    method: 'POST',
    headers: {
      authorization: `Bearer ${apiKey}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + bytes + tail.length),
    },
  });
  const answered = new Promise<number>((resolve, reject) => {
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
  // A rejection while the body is still being written is reported by `await answered` below.
  answered.catch(() => undefined);
  let aborted = false;
  request.on('close', () => {
    aborted = true;
  });
  const write = async (chunk: Buffer) => {
    if (request.write(chunk) || aborted) return;
    // Drained, or closed (the gateway answered early and hung up): either way this write is over.
    await new Promise<void>((resolve) => {
      const done = () => {
        request.off('drain', done);
        request.off('close', done);
        resolve();
      };
      request.on('drain', done);
      request.on('close', done);
    });
  };
  await write(head);
  for (let sent = 0; sent < bytes && !aborted; sent += block.length) {
    await write(sent + block.length <= bytes ? block : block.subarray(0, bytes - sent));
  }
  request.end(tail);
  return answered;
}

// ---------------------------------------------------------------------------------------------------------------

const rate = (p: PathResult) => `${p.pagesPerSec} pages/s (${p.pagesPerSecPerCore}/core)`;

/** The bare tool a comparison's raw path ran. */
export function rawTool(key: ThroughputComparison['key']): string {
  return key === 'ocrPdf' ? 'pdftoppm + tesseract' : key === 'ocrPng' ? 'tesseract' : 'pdftotext';
}

function summarize(d: DocumentsResult): DocumentsSummaryRow[] {
  const rows: DocumentsSummaryRow[] = [];
  for (const c of d.comparisons) {
    rows.push({
      measurement: c.measurement,
      quarry: rate(c.quarry),
      raw: `${rate(c.raw)}: ${rawTool(c.key)}`,
      ratio: c.ratio,
      target: `≥ ${c.target}`,
      met: c.met,
    });
  }
  const s = d.scanMemory;
  if (s) {
    rows.push({
      measurement: `Ingest worker memory, ${s.pages}-page scanned PDF`,
      quarry:
        `peak ${s.peakTreeRssMb} MB worker + descendants (worker alone ${s.peakWorkerRssMb} MB); ` +
        `${s.pagesPerSec} pages/s`,
      raw: '–',
      ratio: null,
      target: `< ${s.target} MB`,
      met: s.met,
    });
  }
  const u = d.bigUpload;
  if (u) {
    rows.push({
      measurement: `Gateway RSS during a ${u.megabytes} MB upload`,
      quarry: `+${u.growthMb} MB (${u.baselineRssMb} → ${u.peakRssMb} MB), ${u.mbPerSec} MB/s, status ${u.status}`,
      raw: '–',
      ratio: null,
      target: `< ${u.target} MB growth`,
      met: u.met,
    });
  }
  return rows;
}
