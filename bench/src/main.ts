// `npm run bench`: no-op orchestration through the messaging library and the job state machine (and
// the same no-op job through raw JetStream + pg, BullMQ, pg-boss, Graphile Worker and a naive table),
// POST /v1/documents latency, what tracing and metrics cost the gateway, and what the ingest worker
// adds to tesseract and pdftotext (and its and the gateway's memory), and how the real pipeline scales
// with 1, 2, 4 worker processes of each kind, written as JSON and a Markdown table to bench/results/.
import 'reflect-metadata';
import { TEST_NATS_URL, testServerUrl, withClient } from '@quarry/testing';
import { connect } from '@nats-io/transport-node';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseBenchArgs, USAGE } from './args';
import { runDocuments } from './documents';
import { runHttp } from './http';
import { runOrchestration } from './orchestration';
import { runOtel } from './otel';
import { peerProblems, runPeers } from './peers';
import { runRetrieval } from './retrieval';
import { runScale } from './scale';
import { runSearch } from './search';
import { computeRatios, computeSummary, renderMarkdown, type BenchReport, type MachineInfo } from './report';

/** The repository root, found the same way from bench/src and from dist/bench/src. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'nx.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no nx.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

async function machineInfo(root: string): Promise<MachineInfo> {
  const load = os.loadavg();
  const postgres = await withClient(testServerUrl(), async (c) => {
    const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return `PostgreSQL ${rows[0]?.v ?? '?'}`;
  }).catch(() => 'PostgreSQL unreachable');
  const nats = await connect({ servers: TEST_NATS_URL, name: 'bench-info' })
    .then(async (nc) => {
      const v = nc.info?.version ?? '?';
      await nc.close();
      return v;
    })
    .catch(() => 'unreachable');
  let commit = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    commit = dirty ? `${head}+dirty` : head;
  } catch {
    // Not a git checkout: the commit stays unknown.
  }
  return {
    node: process.versions.node,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    loadAverageAtStart: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
    postgres,
    nats,
    commit,
  };
}

async function main(): Promise<number> {
  const root = repoRoot();
  const options = parseBenchArgs(process.argv.slice(2), root);
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // Warnings and errors only, to stderr: stdout carries the Markdown report.
  const logger = pino({ level: 'warn', base: { app: 'bench' } }, pino.destination(2));
  const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

  const started = new Date();
  const t0 = performance.now();
  const machine = await machineInfo(root);
  progress(`load average at start ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const problems: string[] = [];

  const orchestration = options.skipOrchestration
    ? undefined
    : await runOrchestration(options, logger, progress);
  // A peer that cannot run (a missing client library, a server down) is a problem of the run; the
  // others still run and are reported.
  const peers = options.skipPeers ? undefined : await runPeers(options, logger, progress);
  const http = options.skipHttp ? undefined : await runHttp(options, root, logger, progress);
  const otel = options.skipOtel ? undefined : await runOtel(options, root, logger, progress);
  // A documents part that cannot run (no corpus, an app that does not start) is a problem of the run, not the
  // end of it: the other parts' results are still written.
  const documents = options.skipDocuments
    ? undefined
    : await runDocuments(options, root, logger, progress).catch((error: unknown) => {
        problems.push(error instanceof Error ? error.message : String(error));
        return undefined;
      });

  // Scale-out last: it starts up to nine processes, whose boot would weigh on the other parts' numbers.
  const scale = options.skipScale
    ? undefined
    : await runScale(options, root, logger, progress).catch((error: unknown) => {
        problems.push(`scale: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });

  // Retrieval after scale: it boots its own stack and spends minutes embedding a corpus.
  const retrieval = options.skipRetrieval
    ? undefined
    : await runRetrieval(options, root, logger, progress).catch((error: unknown) => {
        problems.push(`retrieval: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });

  // Search last: its database is a few GB of chunks and postings, written and searched with the machine to itself.
  const search = options.skipSearch
    ? undefined
    : await runSearch(options, logger, progress).catch((error: unknown) => {
        problems.push(`search: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });

  for (const l of orchestration?.closedLoop ?? []) {
    if (l.notSucceeded > 0)
      problems.push(`closed loop c${l.concurrency}: ${l.notSucceeded} job(s) not succeeded`);
    if (l.deadLettered > 0) problems.push(`closed loop c${l.concurrency}: ${l.deadLettered} dead letter(s)`);
  }
  for (const d of orchestration?.drain ?? []) {
    if (d.notSucceeded > 0) problems.push(`drain c${d.concurrency}: ${d.notSucceeded} job(s) not succeeded`);
  }
  problems.push(...peerProblems(peers));
  for (const p of http?.phases ?? []) {
    if (p.unexpected > 0) problems.push(`${p.name} c${p.concurrency}: ${p.unexpected} unexpected status(es)`);
  }
  for (const v of otel?.variants ?? []) {
    for (const p of v.phases) {
      if (p.unexpected > 0)
        problems.push(`otel ${v.key} ${p.name} c${p.concurrency}: ${p.unexpected} unexpected status(es)`);
    }
  }
  if (otel && otel.otlp.spans === 0) problems.push('otel c: the OTLP receiver got no spans');
  if (otel && otel.otlp.decodeErrors > 0)
    problems.push(`otel c: ${otel.otlp.decodeErrors} OTLP request(s) could not be decoded`);
  if (otel?.metrics.unexpected)
    problems.push(`GET /metrics: ${otel.metrics.unexpected} unexpected status(es)`);
  problems.push(...(documents?.problems ?? []));
  problems.push(...(scale?.problems ?? []));

  const { outDir, ...parameters } = options;
  const report: BenchReport = {
    startedAt: started.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    machine,
    parameters,
    summary: computeSummary(peers, http),
    ...(orchestration ? { orchestration } : {}),
    ...(peers ? { peers } : {}),
    ...(http ? { http } : {}),
    ...(otel ? { otel } : {}),
    ...(documents ? { documents } : {}),
    ...(scale ? { scale } : {}),
    ...(retrieval ? { retrieval } : {}),
    ...(search ? { search } : {}),
    ratios: computeRatios(orchestration, http, otel, documents, scale),
    problems,
  };
  const markdown = renderMarkdown(report);
  await mkdir(outDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  await writeFile(path.join(outDir, `${stamp}.json`), json);
  await writeFile(path.join(outDir, 'latest.json'), json);
  await writeFile(path.join(outDir, 'latest.md'), markdown);
  process.stdout.write(markdown);
  progress(`wrote ${path.relative(root, path.join(outDir, `${stamp}.json`))}, latest.json and latest.md`);
  return problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
