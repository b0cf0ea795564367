import { rawTool, type DocumentsResult, type PathResult } from './documents';
import type { HttpResult } from './http';
import type { OrchestrationResult } from './orchestration';
import type { OtelResult } from './otel';
import { FRAMEWORK_PEERS, type PeerResult, type PeersResult } from './peers';
import type { ModeQuality, RetrievalResult } from './retrieval';
import type { ScaleResult } from './scale';
import type { SearchResult } from './search';
import { rate, ratio, type LatencySummary } from './stats';

export interface MachineInfo {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  loadAverageAtStart: [number, number, number];
  postgres: string;
  nats: string;
  commit: string;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  parameters: Record<string, unknown>;
  /** The headline numbers; null where the part that measures one did not run. */
  summary: BenchSummary;
  orchestration?: OrchestrationResult;
  peers?: PeersResult;
  http?: HttpResult;
  otel?: OtelResult;
  documents?: DocumentsResult;
  scale?: ScaleResult;
  retrieval?: RetrievalResult;
  search?: SearchResult;
  ratios: Record<string, number>;
  problems: string[];
}

const f = (v: number | undefined, digits = 1) =>
  v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits).replace(/\.0+$/, '');
const ms = (s: LatencySummary | undefined) => (s ? [f(s.p50, 2), f(s.p95, 2), f(s.p99, 2)] : ['–', '–', '–']);

function table(header: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  return lines.join('\n');
}

export interface BenchSummary {
  /** Quarry's burst: jobs / (first submit → last completion). */
  quarryJobsPerS: number | null;
  /** The fastest by burst of BullMQ, pg-boss, Graphile Worker and the naive table (that lost nothing). */
  bestPeer: string | null;
  bestPeerJobsPerS: number | null;
  /** Raw JetStream + pg burst. */
  floorJobsPerS: number | null;
  /** quarryJobsPerS / bestPeerJobsPerS. */
  ratioToBestPeer: number | null;
  /** quarryJobsPerS / floorJobsPerS. */
  ratioToFloor: number | null;
  /** Quarry's paced phase, scheduled submit → terminal event, p99. */
  pacedP99Ms: number | null;
  /** POST /v1/documents (1 KB) at the HTTP concurrency (8). */
  uploadReqPerS: number | null;
  /** GET /healthz at the same concurrency. */
  healthzReqPerS: number | null;
  uploadRatioToHealthz: number | null;
  /** POST /v1/documents at the paced rate, p99. */
  uploadPacedP99Ms: number | null;
}

const finite = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);
const safeRatio = (a: number | null, b: number | null): number | null =>
  a === null || b === null ? null : finite(ratio(a, b));

/** A peer's burst counts only if every job completed exactly once. */
function cleanBurst(p: PeerResult | undefined): number | null {
  const b = p?.burst;
  if (!b || p?.error || b.lost > 0 || b.duplicated > 0 || b.submitErrors > 0) return null;
  return finite(b.jobsPerSec);
}

export function computeSummary(peers: PeersResult | undefined, h: HttpResult | undefined): BenchSummary {
  const byName = (n: string) => peers?.peers.find((p) => p.name === n);
  const quarry = byName('quarry');
  const quarryJobsPerS = cleanBurst(quarry);
  let bestPeer: string | null = null;
  let bestPeerJobsPerS: number | null = null;
  for (const name of FRAMEWORK_PEERS) {
    const v = cleanBurst(byName(name));
    if (v !== null && (bestPeerJobsPerS === null || v > bestPeerJobsPerS)) {
      bestPeer = name;
      bestPeerJobsPerS = v;
    }
  }
  const floorJobsPerS = cleanBurst(byName('floor'));
  const phases = h?.phases ?? [];
  const widest = (match: (p: (typeof phases)[number]) => boolean) =>
    phases.filter(match).sort((a, b) => b.concurrency - a.concurrency)[0];
  const health = widest((p) => p.name.startsWith('GET /healthz') && p.concurrency > 1);
  const upload = widest((p) => p.name === 'POST /v1/documents' && p.concurrency > 1 && !p.paced);
  const pacedUpload = phases.find((p) => p.name.startsWith('POST /v1/documents') && p.paced);
  const uploadReqPerS = finite(upload?.perSec);
  const healthzReqPerS = finite(health?.perSec);
  return {
    quarryJobsPerS,
    bestPeer,
    bestPeerJobsPerS,
    floorJobsPerS,
    ratioToBestPeer: safeRatio(quarryJobsPerS, bestPeerJobsPerS),
    ratioToFloor: safeRatio(quarryJobsPerS, floorJobsPerS),
    pacedP99Ms: quarry?.paced && quarry.paced.lost === 0 ? finite(quarry.paced.latency.p99) : null,
    uploadReqPerS,
    healthzReqPerS,
    uploadRatioToHealthz: safeRatio(uploadReqPerS, healthzReqPerS),
    uploadPacedP99Ms: pacedUpload && pacedUpload.unexpected === 0 ? finite(pacedUpload.latency.p99) : null,
  };
}

/** Ratios are what compare across machines and runs; absolute timings on a shared box are noise-prone. */
export function computeRatios(
  o: OrchestrationResult | undefined,
  h: HttpResult | undefined,
  t?: OtelResult,
  d?: DocumentsResult,
  sc?: ScaleResult,
) {
  const r: Record<string, number> = {};
  if (o) {
    const sm = o.components.stateMachine;
    const js = o.components.jetstream;
    const loop1 = o.closedLoop[0];
    const best = Math.max(...o.closedLoop.map((l) => l.jobsPerSec));
    const bestDrain = Math.max(...o.drain.map((d) => d.jobsPerSec));
    if (loop1) {
      r[`closedLoop c${loop1.concurrency} latency p50 / state machine alone per job p50`] = ratio(
        loop1.latency.p50,
        sm.perJob.p50,
      );
    }
    r['best closed-loop jobs/s / state machine alone jobs/s (sequential)'] = ratio(best, sm.jobsPerSec);
    r['best drain jobs/s / state machine alone jobs/s (sequential)'] = ratio(bestDrain, sm.jobsPerSec);
    r['state machine per job p50 / createIngestJob p50'] = ratio(
      sm.perJob.p50,
      o.components.createIngestJob.latency.p50,
    );
    r['createIngestJob p50 / JetStream publish p50'] = ratio(
      o.components.createIngestJob.latency.p50,
      js.publishSequential.latency.p50,
    );
    r['raw consume+ackAck msgs/s / sequential publish msgs/s'] = ratio(
      js.consumeAckPerSec,
      js.publishSequential.perSec,
    );
    for (const d of o.components.messagingLibraryDrain) {
      r[`CommandConsumer no-op c${d.concurrency} msgs/s / raw consume+ackAck msgs/s`] = ratio(
        d.perSec,
        js.consumeAckPerSec,
      );
    }
    for (const l of o.closedLoop) {
      const lib = o.components.messagingLibraryDrain.find((m) => m.concurrency === l.concurrency);
      if (lib) {
        r[`2 × CommandConsumer no-op CPU per msg / closed loop CPU per job, c${l.concurrency}`] = ratio(
          (2 * lib.benchCpuUsPerMessage) / 1000,
          l.benchCpuMsPerJob,
        );
      }
    }
    for (const d of o.drain) {
      const lib = o.components.messagingLibraryDrain.find((m) => m.concurrency === d.concurrency);
      if (lib)
        r[`drain c${d.concurrency} jobs/s / CommandConsumer no-op c${d.concurrency} msgs/s`] = ratio(
          d.jobsPerSec,
          lib.perSec,
        );
    }
  }
  if (h) {
    const health = h.phases.find((p) => p.name.startsWith('GET /healthz'));
    const post = h.phases.find((p) => p.name === 'POST /v1/documents' && p.concurrency === 1);
    const postC = h.phases.find((p) => p.name === 'POST /v1/documents' && p.concurrency > 1);
    if (health && post)
      r['POST /v1/documents p50 / GET /healthz p50'] = ratio(post.latency.p50, health.latency.p50);
    if (post && o) {
      r['POST /v1/documents p50 / createIngestJob p50'] = ratio(
        post.latency.p50,
        o.components.createIngestJob.latency.p50,
      );
    }
    if (post && postC) r[`POST req/s at c${postC.concurrency} / at c1`] = ratio(postC.perSec, post.perSec);
  }
  for (const x of t?.ratios ?? []) {
    const what = `POST /v1/documents c${x.concurrency}, tracing ${x.variant} / a`;
    r[`${what}: p50`] = x.p50;
    r[`${what}: gateway CPU per request`] = x.cpuPerRequest;
  }
  for (const c of d?.comparisons ?? []) {
    const raw = rawTool(c.key);
    const what =
      c.key === 'ocrPdf'
        ? 'OCR scanned PDF'
        : c.key === 'ocrPng'
          ? 'OCR PNG'
          : `text-layer PDF (${c.pages / c.files} pages each)`;
    r[`${what} pages/s: ingest worker / ${raw} (target ≥ ${c.target})`] = c.ratio;
    r[`${what} CPU per page: ingest worker and descendants / ${raw}`] = ratio(
      c.quarry.cpuMsPerPage,
      c.raw.cpuMsPerPage,
    );
  }
  const base = sc?.steps[0];
  for (const s of sc?.steps.slice(1) ?? []) {
    if (!base) break;
    const mode = sc?.embedding === 'stub' ? ', stub embeddings' : '';
    r[`scale jobs/s, N=${s.replicas} / N=${base.replicas} workers of each kind${mode}`] = s.speedup;
    r[`scale jobs/s per busy core, N=${s.replicas} / N=${base.replicas}${mode}`] = ratio(
      s.jobsPerSecPerCore,
      base.jobsPerSecPerCore,
    );
  }
  return r;
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(`# Quarry bench — ${report.startedAt}`);
  out.push('');
  out.push(
    `Node ${m.node} on ${m.platform}, ${m.cpus} × ${m.cpuModel}, ${f(m.memoryGb)} GB; load average at start ` +
      `${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' / ')}; ${m.postgres}; NATS ${m.nats}; commit ${m.commit}. ` +
      `Run took ${f(report.durationMs / 1000)} s.`,
  );
  out.push('');
  out.push(`Parameters: \`${JSON.stringify(report.parameters)}\``);
  out.push('', ...renderSummary(report.summary));
  const o = report.orchestration;
  if (o) {
    out.push('');
    out.push('## Orchestration, no-op work');
    out.push('');
    out.push(
      `One-document ingest jobs through \`JobsRepository.createIngestJob\` (published after commit by the port), \`CommandConsumer\`s for ` +
        `\`ingestDocument\` and \`indexDocument\` doing the real transitions without parsing or embedding; ` +
        `producer, ingest worker and index worker each with their own pg pool (${o.poolPerRole}) and NATS connection, in one process. ` +
        `**Closed loop**: as many jobs in flight as the handler concurrency, ${o.jobsPerRun} jobs or ${o.maxRunSeconds} s per run; ` +
        `latency = before \`createIngestJob\` → completion event received; submit = \`createIngestJob\` with its after-commit publish. ` +
        `**Drain**: ${o.drainJobs} jobs queued first (fill = \`createIngestJob\` with its publish, 4 in flight, no consumers), ` +
        `then the consumers start. Times in ms.`,
    );
    out.push('');
    out.push(
      table(
        [
          'concurrency',
          'jobs',
          'closed loop jobs/s',
          'latency p50',
          'p95',
          'p99',
          'max',
          'DB created→finished p50',
          'p99',
          'submit p50',
          'submit p99',
          'drain jobs/s',
          'drain fill jobs/s',
        ],
        o.closedLoop.map((l) => {
          const d = o.drain.find((x) => x.concurrency === l.concurrency);
          return [
            l.concurrency,
            l.jobs,
            f(l.jobsPerSec),
            ...ms(l.latency),
            f(l.latency.max, 2),
            f(l.dbLatency.p50, 2),
            f(l.dbLatency.p99, 2),
            f(l.submit.p50, 2),
            f(l.submit.p99, 2),
            f(d?.jobsPerSec),
            d ? f(rate(d.jobs, d.fillMs)) : '–',
          ];
        }),
      ),
    );
    out.push('');
    out.push('### Where a closed-loop job spends its time (p50 of each segment, ms)');
    out.push('');
    out.push(
      'From `job_steps` and `jobs` timestamps, each the start time of a transaction, so every segment begins with ' +
        'that transaction: created → ingest claim = `createIngestJob` + its after-commit publish (publish, markSent) + pull ' +
        'delivery; ingest claim → complete = the `claimForExtraction` tx (no work between); ingest complete → index ' +
        'claim = `completeExtraction` + its publish + delivery; index claim → complete = the `claimForIndexing` tx; ' +
        'complete → event = `completeIndexing` (one statement, which also ends the job when this was its last document) + event publish + delivery. The rest of end-to-end is client-side. ' +
        '`jobs.created_at` is stored in milliseconds, so the first segment and DB created→finished are ±0.5 ms.',
    );
    out.push('');
    out.push(
      table(
        [
          'concurrency',
          'created → ingest claim',
          'ingest claim → complete',
          'ingest complete → index claim',
          'index claim → complete',
          'complete → event',
          'end-to-end p50',
        ],
        o.closedLoop.map((l) => [
          l.concurrency,
          f(l.segments.createdToIngestClaim.p50, 2),
          f(l.segments.ingestClaimToComplete.p50, 2),
          f(l.segments.ingestCompleteToIndexClaim.p50, 2),
          f(l.segments.indexClaimToComplete.p50, 2),
          f(l.segments.completeToEvent.p50, 2),
          f(l.latency.p50, 2),
        ]),
      ),
    );
    const c = o.components;
    const lat = (s: LatencySummary) => [f(s.p50, 2), f(s.p99, 2)];
    out.push('');
    out.push('### Components, measured in the same run');
    out.push('');
    out.push(
      table(
        ['component', 'ops/s', 'p50 ms', 'p99 ms'],
        [
          [
            '`createIngestJob` alone (sequential)',
            f(c.createIngestJob.perSec),
            ...lat(c.createIngestJob.latency),
          ],
          [
            'state machine alone, whole job: its transitions one after another (no NATS; outbox marks not waited for, as the relay sends them)',
            f(c.stateMachine.jobsPerSec),
            ...lat(c.stateMachine.perJob),
          ],
          ...Object.entries(c.stateMachine.transitions).map(([name, s]) => [
            `  · \`${name}\` (${f(c.stateMachine.pgQueriesPerTransition[name])} queries)`,
            '',
            ...lat(s),
          ]),
          [
            `JetStream publish, empty body, awaited one by one (${c.jetstream.messages})`,
            f(c.jetstream.publishSequential.perSec),
            ...lat(c.jetstream.publishSequential.latency),
          ],
          ['JetStream publish, 64 in flight', f(c.jetstream.publishPipelinedPerSec), '', ''],
          ['JetStream pull consume + ackAck', f(c.jetstream.consumeAckPerSec), '', ''],
          ...c.messagingLibraryDrain.map((d) => [
            `\`CommandConsumer\` no-op handler, concurrency ${d.concurrency} (${d.messages} msgs)`,
            f(d.perSec),
            '',
            '',
          ]),
        ],
      ),
    );
    const issues = o.closedLoop.filter((l) => l.redeliveries > 0 || l.deadLettered > 0);
    if (issues.length > 0) {
      out.push('');
      out.push(
        `Redeliveries / dead letters: ${issues.map((l) => `c${l.concurrency}: ${l.redeliveries} / ${l.deadLettered}`).join(', ')}`,
      );
    }
  }
  if (report.peers) out.push('', ...renderPeers(report.peers));
  const h = report.http;
  if (h) {
    out.push('');
    out.push('## HTTP gateway');
    out.push('');
    out.push(
      `The built gateway as its own process (LOG_LEVEL=${h.gatewayLogLevel}, ready in ${h.startupMs} ms), no workers; ` +
        `${h.fileBytes}-byte text file per upload, ${h.warmup} warm-up uploads first. The paced phase sends at a ` +
        'fixed rate whatever the answers (open loop; concurrency = most requests in flight at once) and times each ' +
        'request from its scheduled send. Gateway CPU = the gateway process per request. Times in ms.',
    );
    out.push('');
    out.push(
      table(
        [
          'request',
          'concurrency',
          'requests',
          'req/s',
          'p50',
          'p95',
          'p99',
          'max',
          'gateway CPU ms/req',
          'unexpected status',
        ],
        h.phases.map((p) => [
          p.name,
          p.concurrency,
          p.requests,
          f(p.perSec),
          ...ms(p.latency),
          f(p.latency.max, 2),
          f(p.gatewayCpuMsPerRequest, 2),
          p.unexpected,
        ]),
      ),
    );
  }
  if (report.otel) out.push('', ...renderOtel(report.otel));
  if (report.documents) out.push('', ...renderDocuments(report.documents));
  if (report.scale) out.push('', ...renderScale(report.scale));
  if (report.retrieval) out.push('', ...renderRetrieval(report.retrieval));
  if (report.search) out.push('', ...renderSearch(report.search));
  const pct = (v: number | undefined) => (v === undefined ? '–' : `${Math.round(v * 100)}%`);
  const cpuRows: (string | number)[][] = [];
  if (o) {
    cpuRows.push([
      'state machine alone (sequential)',
      1,
      f(o.components.stateMachine.jobsPerSec),
      `${f(o.components.stateMachine.benchCpuMsPerJob, 2)} ms/job`,
      f(o.components.stateMachine.pgQueriesPerJob),
      '',
      '',
      '',
    ]);
    for (const d of o.components.messagingLibraryDrain) {
      cpuRows.push([
        'CommandConsumer no-op drain',
        d.concurrency,
        f(d.perSec),
        `${d.benchCpuUsPerMessage} µs/msg`,
        '',
        pct(d.cpu.eventLoopUtilization),
        '',
        pct(d.cpu.machineBusy),
      ]);
    }
    for (const l of o.closedLoop) {
      cpuRows.push([
        'closed loop',
        l.concurrency,
        f(l.jobsPerSec),
        `${f(l.benchCpuMsPerJob, 2)} ms/job`,
        f(l.pgQueriesPerJob),
        pct(l.cpu.eventLoopUtilization),
        '',
        pct(l.cpu.machineBusy),
      ]);
    }
    for (const d of o.drain) {
      cpuRows.push([
        'drain',
        d.concurrency,
        f(d.jobsPerSec),
        `${f(d.benchCpuMsPerJob, 2)} ms/job`,
        '',
        pct(d.cpu.eventLoopUtilization),
        '',
        pct(d.cpu.machineBusy),
      ]);
    }
  }
  for (const p of h?.phases ?? []) {
    cpuRows.push([
      p.name,
      p.concurrency,
      f(p.perSec),
      '',
      '',
      '',
      `${f(p.gatewayCpuMsPerRequest, 2)} ms/req`,
      pct(p.cpu.machineBusy),
    ]);
  }
  if (cpuRows.length > 0) {
    out.push('');
    out.push('## CPU during each measured span');
    out.push('');
    out.push(
      'bench CPU = this process (all three roles: Prisma client, NATS client, handlers) per job or message; event loop busy = ' +
        "share of wall time the bench's event loop ran (near 1: latency is queueing inside Node); gateway CPU = the gateway " +
        'process per request; machine busy = both cores, everyone included (PostgreSQL, NATS, other work on the box).',
    );
    out.push('');
    out.push(
      table(
        [
          'span',
          'concurrency',
          'per s',
          'bench CPU',
          'pg queries/job',
          'bench event loop busy',
          'gateway CPU',
          'machine busy',
        ],
        cpuRows,
      ),
    );
  }
  if (Object.keys(report.ratios).length > 0) {
    out.push('');
    out.push('## Ratios');
    out.push('');
    out.push(
      table(
        ['ratio', 'value'],
        Object.entries(report.ratios).map(([k, v]) => [k, f(v, 2)]),
      ),
    );
  }
  if (report.problems.length > 0) {
    out.push('');
    out.push('## Problems');
    out.push('');
    for (const p of report.problems) out.push(`- ${p}`);
  }
  out.push('');
  return out.join('\n');
}

function renderSummary(s: BenchSummary): string[] {
  const v = (x: number | null, digits = 1) => (x === null ? '–' : f(x, digits));
  return [
    '## Summary',
    '',
    table(
      ['', 'value'],
      [
        ['Quarry burst jobs/s', v(s.quarryJobsPerS)],
        [
          `best peer burst jobs/s (${s.bestPeer ?? 'none'}; of bullmq, pg-boss, graphile-worker, naive)`,
          v(s.bestPeerJobsPerS),
        ],
        ['floor (raw JetStream + pg) burst jobs/s', v(s.floorJobsPerS)],
        ['Quarry / best peer', v(s.ratioToBestPeer, 2)],
        ['Quarry / floor', v(s.ratioToFloor, 2)],
        ['Quarry paced p99 ms', v(s.pacedP99Ms, 2)],
        ['POST /v1/documents req/s (1 KB, concurrency 8)', v(s.uploadReqPerS)],
        ['GET /healthz req/s (concurrency 8)', v(s.healthzReqPerS)],
        ['upload / healthz', v(s.uploadRatioToHealthz, 2)],
        ['POST /v1/documents paced p99 ms', v(s.uploadPacedP99Ms, 2)],
      ],
    ),
  ];
}

function renderPeers(r: PeersResult): string[] {
  const out: string[] = [];
  out.push('## Peers: the same no-op job through other job platforms');
  out.push('');
  out.push(
    'Every peer runs in this process on the same PostgreSQL, NATS and Redis, with a database of its own (and private ' +
      'stream, queue and key names) dropped afterwards; a job is submitted by a call of its own (no bulk add), and it is ' +
      'complete when its completion row is committed in PostgreSQL (Quarry: when its terminal event arrives, after the ' +
      `job's last transition committed). Warm-up: ${r.warmupJobs} jobs. **Burst**: ${r.burstJobs} jobs from ` +
      `${r.producers} concurrent producers, rate = completed jobs / (first submit → last completion). **Paced**: ` +
      `${r.pacedRate} jobs/s for ${r.pacedSeconds} s, open loop, latency = scheduled submit → completion. CPU = this ` +
      'process per job (producers, workers and clients together); machine CPU = every process on every core per job ' +
      '(PostgreSQL, NATS and Redis included), which bounds the rate once the cores are busy; pg queries = every query sent through `pg` per job, ' +
      "the library's own polling and bookkeeping included (BullMQ keeps its queue in Redis: its figure is the " +
      'completion row only). Lost / duplicated: completion rows counted in PostgreSQL after each phase. Times in ms.',
  );
  out.push('');
  out.push(
    table(
      [
        'peer',
        'burst jobs/s',
        'burst CPU ms/job',
        'burst machine CPU ms/job',
        'burst pg queries/job',
        'paced p50',
        'p95',
        'p99',
        'max',
        'paced CPU ms/job',
        'lost',
        'duplicated',
      ],
      r.peers.map((p) => {
        if (!p.burst)
          return [
            `${p.label}: **not run** (${p.error ?? 'no result'})`,
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
          ];
        const lost = p.burst.lost + (p.paced?.lost ?? 0) + (p.warmup?.lost ?? 0);
        const dup = p.burst.duplicated + (p.paced?.duplicated ?? 0) + (p.warmup?.duplicated ?? 0);
        return [
          p.error ? `${p.label} (${p.error})` : p.label,
          f(p.burst.jobsPerSec),
          f(p.burst.benchCpuMsPerJob, 2),
          f(p.burst.machineCpuMsPerJob, 2),
          f(p.burst.pgQueriesPerJob),
          ...(p.paced ? ms(p.paced.latency) : ['–', '–', '–']),
          f(p.paced?.latency.max, 2),
          f(p.paced?.benchCpuMsPerJob, 2),
          lost > 0 ? `**${lost}**` : 0,
          dup > 0 ? `**${dup}**` : 0,
        ];
      }),
    ),
  );
  out.push('');
  out.push('How each peer was set up:');
  out.push('');
  for (const p of r.peers) out.push(`- **${p.label}** (${p.backend}): ${p.config}.`);
  return out;
}

function renderOtel(t: OtelResult): string[] {
  const out: string[] = [];
  out.push('## Observability overhead');
  out.push('');
  out.push(
    `POST /v1/documents (${t.fileBytes}-byte text file) against the built gateway started three ways: ` +
      t.variants.map((v) => `**${v.key}** ${v.label} (${envText(v.env)})`).join(', ') +
      `. Schedule: ${t.schedule}. Gateway CPU in windows = the gateway's CPU while its own requests ran; ` +
      'over the section = from its first measured request to the end of the last round (so also what it did while ' +
      'the others were measured: pollers, and for c the batch exports that fell outside its windows). The OTLP ' +
      'receiver runs in the bench process and only stores what it gets; it is decoded after the last round. Times in ms.',
  );
  out.push('');
  out.push(
    table(
      [
        'variant',
        'concurrency',
        'requests',
        'req/s',
        'p50',
        'p95',
        'p99',
        'p50 per round',
        'gateway CPU ms/req in windows',
        'over the section (both phases)',
        'ready in ms',
        'unexpected status',
      ],
      t.variants.flatMap((v) =>
        v.phases.map((p, i) => [
          `${v.key}: ${v.label}`,
          p.concurrency,
          p.requests,
          f(p.perSec),
          ...ms(p.latency),
          (v.roundP50[i] ?? []).map((x) => f(x, 1)).join(' / '),
          f(p.gatewayCpuMsPerRequest, 2),
          f(v.sectionCpuMsPerRequest, 2),
          i === 0 ? v.startupMs : '',
          p.unexpected,
        ]),
      ),
    ),
  );
  out.push('');
  const a = t.variants.find((v) => v.key === 'a');
  out.push(
    table(
      ['ratio to a', 'concurrency', 'p50', 'p99', 'req/s', 'gateway CPU/req in windows', 'over the section'],
      t.ratios.map((x) => {
        const v = t.variants.find((y) => y.key === x.variant);
        return [
          `${x.variant} / a`,
          x.concurrency,
          f(x.p50, 2),
          f(x.p99, 2),
          f(x.perSec, 2),
          f(x.cpuPerRequest, 2),
          v && a ? f(ratio(v.sectionCpuMsPerRequest, a.sectionCpuMsPerRequest), 2) : '–',
        ];
      }),
    ),
  );
  const x = t.otlp;
  out.push('');
  out.push(
    `Export check (c): the loopback receiver got ${x.exportRequests} OTLP requests (${f(x.bodyBytes / 1024, 0)} KiB), ` +
      `${x.spans} spans in ${x.traces} traces, ${x.rootServerSpans} root server spans for ${x.uploadsSent} uploads sent ` +
      `(warm-up included; ${f(x.spansPerRootServerSpan, 1)} spans per request), all in ${f(x.flushWaitMs / 1000, 1)} s ` +
      `after the last request` +
      (x.rootServerSpans < x.uploadsSent
        ? ` — **${x.uploadsSent - x.rootServerSpans} uploads missing**`
        : '') +
      (x.decodeErrors > 0 ? `; **${x.decodeErrors} requests not decodable**` : '') +
      `. Most frequent span names: ${x.topSpanNames.map((n) => `\`${n.name}\` ${n.count}`).join(', ')}.`,
  );
  const m = t.metrics;
  out.push('');
  out.push('### One Prometheus scrape of the gateway');
  out.push('');
  if (!m.available) {
    out.push(
      `**GET /metrics answered ${m.status}** on gateway ${m.variant}` +
        (m.status === 404 ? ' (this build serves no metrics on the gateway port)' : '') +
        ': the scrape cost was not measured.',
    );
  } else {
    out.push(
      `Sequential \`GET /metrics\` on gateway ${m.variant} after its uploads (its histograms and counters have ` +
        `series), ${m.warmup} warm-up scrapes first; exposition of the last scrape: ${m.bytes ?? '–'} bytes, ` +
        `${m.samples ?? '–'} samples in ${m.families ?? '–'} metric families (${m.contentType ?? ''}).`,
    );
    out.push('');
    out.push(
      table(
        [
          'scrapes',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'max ms',
          'bytes',
          'gateway CPU ms/scrape',
          'unexpected status',
        ],
        [
          [
            m.scrapes,
            ...ms(m.latency),
            f(m.latency?.max, 2),
            m.bytes ?? '–',
            f(m.gatewayCpuMsPerScrape, 2),
            m.unexpected ?? 0,
          ],
        ],
      ),
    );
  }
  return out;
}

function envText(env: Record<string, string>): string {
  const entries = Object.entries(env);
  return entries.length === 0 ? 'no OTEL_* variables' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

function renderDocuments(d: DocumentsResult): string[] {
  const out: string[] = [];
  const yes = (met: boolean | null) => (met === null ? '–' : met ? 'yes' : '**no**');
  out.push('## Documents');
  out.push('');
  out.push(
    `The built gateway and ingest worker as their own processes on a fresh database and NATS namespace, no analysis ` +
      `worker (only the ingest step runs); INGEST_CONCURRENCY=${d.settings.ingestConcurrency}, ` +
      `OCR_CONCURRENCY=${d.settings.ocrConcurrency} on ${d.cores} cores, jobs in the ${d.settings.lane} lane. ` +
      "Quarry's time is the job's `ingest` step from PostgreSQL (`job_steps.started_at` → `finished_at`: first " +
      'claim to last document stored), so the upload is not in it; raw is the same pages through the bare tools, ' +
      `as many at once as cores. Both paths warmed up on ${d.settings.warmupPages} pages first; rounds alternate which ` +
      'path goes first and the medians are compared. Every upload has bytes of its own (a PNG text chunk or a PDF ' +
      `comment), so the worker never reuses an earlier extraction. Page text: BEIR SciFact abstracts (${d.corpus.abstracts} ` +
      `read from \`${d.corpus.path}\`), ASCII only. MB = 2^20 bytes.`,
  );
  out.push('');
  out.push(
    table(
      ['measurement', 'Quarry', 'raw', 'ratio', 'target', 'met?'],
      d.summary.map((row) => [
        row.measurement,
        row.quarry,
        row.raw,
        row.ratio === null ? '–' : f(row.ratio, 2),
        row.target,
        yes(row.met),
      ]),
    ),
  );
  if (d.comparisons.length > 0) {
    out.push('');
    out.push('### Throughput rounds');
    out.push('');
    out.push(
      'CPU per page: for raw, the tools the bench ran; for Quarry, the ingest worker and everything under it (parser ' +
        'hosts, tesseract, pdftoppm, pdftotext) over the upload and the wait. Machine busy: both cores, everyone ' +
        "included (PostgreSQL, NATS, the gateway, other people's work on the box). Spread: (max − min) / median of pages/s.",
    );
    out.push('');
    const rows: (string | number)[][] = [];
    const pathRows = (label: string, p: PathResult) => {
      for (const r of p.rounds) {
        rows.push([
          label,
          p.what,
          r.round,
          r.ms,
          f(r.pagesPerSec, 2),
          f(r.cpuMsPerPage, r.cpuMsPerPage >= 100 ? 0 : 2),
          `${Math.round(r.machineBusy * 100)}%`,
        ]);
      }
      rows.push([
        label,
        '**median**',
        '',
        '',
        f(p.pagesPerSec, 2),
        f(p.cpuMsPerPage, p.cpuMsPerPage >= 100 ? 0 : 2),
        `spread ${f(p.spread, 2)}`,
      ]);
    };
    for (const c of d.comparisons) {
      pathRows(`${c.measurement}: Quarry`, c.quarry);
      pathRows(`${c.measurement}: raw`, c.raw);
    }
    out.push(table(['path', 'what ran', 'round', 'ms', 'pages/s', 'CPU ms/page', 'machine busy'], rows));
    out.push('');
    out.push(
      table(
        [
          'measurement',
          'Quarry / raw per round',
          'pages stored',
          'page methods',
          'chars Quarry',
          'chars raw',
          'mean OCR confidence',
        ],
        d.comparisons.map((c) => [
          c.measurement,
          c.roundRatios.map((x) => f(x, 2)).join(' / '),
          c.output.quarryPages,
          Object.entries(c.output.pageMethods)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
          c.output.quarryChars,
          c.output.rawChars,
          c.output.meanOcrConfidence === null ? '–' : f(c.output.meanOcrConfidence, 1),
        ]),
      ),
    );
  }
  const s = d.scanMemory;
  if (s) {
    out.push('');
    out.push(`### Ingest worker memory on a ${s.pages}-page scan`);
    out.push('');
    out.push(
      `Pages: ${s.pageContent}. PDF ${f(s.pdfBytes / 2 ** 20, 1)} MB, built in ${f(s.buildMs / 1000, 0)} s. ` +
        `Sampled every ${s.sampleIntervalMs} ms (${s.samples} samples) from the upload until the document was ` +
        `${s.status}: VmRSS of the worker, and the sum over the worker and every process under it (found through the ` +
        'ppid links in /proc; a sum of RSS counts shared pages once per process, PSS splits them). The worker’s ' +
        'VmHWM was reset before the upload, so it is the kernel’s peak, between samples too.',
    );
    out.push('');
    out.push(
      table(
        ['', 'MB'],
        [
          ['worker RSS at rest (after boot)', f(s.workerRssAtRestMb, 1)],
          ['worker + descendants RSS at rest', f(s.treeRssAtRestMb, 1)],
          ['peak worker RSS (sampled)', f(s.peakWorkerRssMb, 1)],
          ['peak worker VmHWM', s.peakWorkerHwmMb === null ? '–' : f(s.peakWorkerHwmMb, 1)],
          [`peak worker + descendants RSS (target < ${s.target})`, f(s.peakTreeRssMb, 1)],
          ['peak worker + descendants PSS', f(s.peakTreePssMb, 1)],
        ],
      ),
    );
    out.push('');
    out.push(
      `At the peak: ${s.treeAtPeak.map((p) => `${p.name} ${f(p.rssMb, 1)} MB`).join(', ')} ` +
        `(at most ${s.peakTreeProcesses} processes at once). Ingest step ${f(s.ingestMs / 1000, 1)} s for ` +
        `${s.pages} pages: ${f(s.pagesPerSec, 2)} pages/s; ${s.storedPages} pages stored, mean OCR confidence ` +
        `${s.meanOcrConfidence === null ? '–' : f(s.meanOcrConfidence, 1)}.`,
    );
  }
  const u = d.bigUpload;
  if (u) {
    out.push('');
    out.push(`### Gateway memory during a ${u.megabytes} MB upload`);
    out.push('');
    out.push(
      `A gateway alone (MAX_UPLOAD_BYTES above the file), one warm-up upload, then its RSS at rest (median of 5 ` +
        `readings); then one multipart upload of ${u.megabytes} MB generated on the fly (a 1 MB random block written ` +
        `again and again under backpressure, known Content-Length), the gateway's VmRSS read every ${u.sampleIntervalMs} ms ` +
        `(${u.samples} samples) and its VmHWM (reset at the baseline) after the answer.`,
    );
    out.push('');
    out.push(
      table(
        [
          'status',
          'baseline MB',
          'peak MB (sampled)',
          'growth MB',
          'VmHWM MB',
          'growth by VmHWM MB',
          '1 s after MB',
          's',
          'MB/s',
        ],
        [
          [
            u.status,
            f(u.baselineRssMb, 1),
            f(u.peakRssMb, 1),
            f(u.growthMb, 1),
            u.peakHwmMb === null ? '–' : f(u.peakHwmMb, 1),
            u.growthHwmMb === null ? '–' : f(u.growthHwmMb, 1),
            f(u.rssAfterMb, 1),
            f(u.seconds, 1),
            f(u.mbPerSec, 1),
          ],
        ],
      ),
    );
  }
  if (d.logDirs.length > 0) {
    out.push('');
    out.push(`Logs: ${d.logDirs.map((l) => `\`${l}\``).join(', ')}.`);
  }
  return out;
}

function renderScale(sc: ScaleResult): string[] {
  const out: string[] = [];
  const pct = (v: number) => `${Math.round(v * 100)}%`;
  out.push('## Scale-out: N ingest and N analysis worker processes');
  out.push('');
  out.push(
    `The built gateway (one process) and N ingest-worker plus N analysis-worker processes on this ${sc.cores}-core ` +
      `machine (load average ${sc.loadAverageAtStart.join(' / ')} when the part started), on one database and NATS ` +
      `namespace of their own; each worker at concurrency ${sc.workerConcurrency} (the default), pg pool ` +
      `${sc.workerPoolMax}; embeddings: ${
        sc.embedding === 'local'
          ? 'local (USE-lite in the analysis workers, the default)'
          : '**stub** (an OpenAI-compatible server in the bench process answering at once, 512-d vectors: the pipeline without the model; its CPU is counted as the bench’s)'
      }. Each step boots its workers and runs 2 warm-up jobs per handler slot through them, then pauses them ` +
      `(SIGSTOP) while ${sc.jobsPerStep} uploads of a ${sc.fileBytes}-byte text file (distinct bytes, so no ` +
      `extraction is reused) go in, ${sc.uploadConcurrency} in flight, and lets them go on (SIGCONT) to drain that ` +
      `backlog. **Steady jobs/s** = jobs reaching a terminal state per second (their \`finished_at\`) between the ` +
      `${pct(sc.trim)} and the ${pct(1 - sc.trim)} completion, snapped to the ${sc.sampleMs} ms CPU ` +
      'samples so the CPU figures cover the same span; **whole drain** = all jobs / (resumption → last terminal). ' +
      'Cores busy = the whole machine; **per busy core** = steady jobs/s ÷ cores busy; per pipeline core = steady ' +
      'jobs/s ÷ the cores of the gateway, the workers, PostgreSQL (this database’s backends and the server’s own ' +
      'processes) and NATS; not ours = cores busy − those − the bench (other work on the machine). Speed-up and ' +
      'efficiency are against the first step (efficiency 1 = linear).',
  );
  out.push('');
  out.push(
    table(
      [
        'N',
        'jobs',
        'steady jobs/s',
        'speed-up',
        'efficiency',
        'cores busy',
        'jobs/s per busy core',
        'jobs/s per pipeline core',
        'not ours (cores)',
        'whole drain jobs/s',
        'window s',
        'boot s',
        'not succeeded',
      ],
      sc.steps.map((s) => [
        s.replicas,
        s.jobs,
        f(s.jobsPerSec),
        f(s.speedup, 2),
        f(s.efficiency, 2),
        `${f(s.coresBusy, 2)} (${pct(s.window.machineBusy)})`,
        f(s.jobsPerSecPerCore, 1),
        f(s.jobsPerSecPerPipelineCore, 1),
        f(s.window.otherCores, 2),
        f(s.wholeDrainJobsPerSec),
        `${f(s.window.ms / 1000, 1)}${s.window.fallback ? ' (fallback)' : ''}`,
        f(s.bootMs / 1000, 1),
        s.notSucceeded > 0 ? `**${s.notSucceeded}**` : 0,
      ]),
    ),
  );
  out.push('');
  out.push(
    'CPU per job (ms) from the first upload to the last job terminal (so the upload is in it), each process kind ' +
      'summed over its replicas (a worker with its parser hosts); pipeline = all but the bench; 1000 ÷ pipeline = jobs/s one fully busy core ' +
      'would give if CPU were the only limit. Cores in the window = CPU ms ÷ window ms.',
  );
  out.push('');
  out.push(
    table(
      [
        'N',
        'ingest',
        'analysis',
        'gateway',
        'PostgreSQL',
        'NATS',
        'pipeline',
        'bench',
        '1000 ÷ pipeline',
        'cores in window: ingest / analysis / PostgreSQL / NATS / gateway',
      ],
      sc.steps.map((s) => {
        const c = s.window.roleCores;
        return [
          s.replicas,
          f(s.cpuMsPerJob.ingest, 2),
          f(s.cpuMsPerJob.analysis, 2),
          f(s.cpuMsPerJob.gateway, 2),
          f(s.cpuMsPerJob.postgres, 2),
          f(s.cpuMsPerJob.nats, 2),
          f(s.pipelineCpuMsPerJob, 2),
          f(s.cpuMsPerJob.bench, 2),
          f(1000 / s.pipelineCpuMsPerJob, 1),
          [c.ingest, c.analysis, c.postgres, c.nats, c.gateway].map((v) => f(v, 2)).join(' / '),
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    'Per job, upload to terminal state: PostgreSQL transactions committed and rows written in this database ' +
      "(pg_stat_database, the bench's own queries taken out), WAL bytes and WAL syncs of the whole server " +
      '(pg_stat_wal), messages stored in each JetStream stream; the most RSS one replica reached (with its parser ' +
      'hosts).',
  );
  out.push('');
  out.push(
    table(
      [
        'N',
        'pg commits/job',
        'rows written/job',
        'WAL KB/job',
        'WAL syncs/job',
        'JetStream msgs/job',
        'peak RSS MB ingest / analysis / gateway',
      ],
      sc.steps.map((s) => [
        s.replicas,
        f(s.postgres.commitsPerJob, 2),
        f(s.postgres.rowsWrittenPerJob, 1),
        s.postgres.walBytesPerJob === null ? '–' : f(s.postgres.walBytesPerJob / 1024, 1),
        s.postgres.walSyncsPerJob === null ? '–' : f(s.postgres.walSyncsPerJob, 2),
        `${f(s.jetstream.totalPerJob, 2)} (${Object.entries(s.jetstream.perJob)
          .map(([k, v]) => `${k} ${f(v, 2)}`)
          .join(', ')})`,
        [s.peakRssMb.ingest, s.peakRssMb.analysis, s.peakRssMb.gateway].map((v) => f(v, 0)).join(' / '),
      ]),
    ),
  );
  out.push('');
  out.push('The backlog uploads of each step (workers paused; CPU of the whole process per upload):');
  out.push('');
  out.push(
    table(
      [
        'N',
        'uploads',
        'uploads/s',
        'gateway CPU ms/upload',
        'PostgreSQL CPU ms/upload',
        'NATS CPU ms/upload',
        'machine busy',
        'unexpected status',
      ],
      sc.steps.map((s) => [
        s.replicas,
        s.jobs,
        f(s.upload.perSec),
        f(s.upload.gatewayCpuMsPerUpload, 2),
        f(s.upload.postgresCpuMsPerUpload, 2),
        f(s.upload.natsCpuMsPerUpload, 2),
        pct(s.upload.machineBusy),
        s.upload.unexpected,
      ]),
    ),
  );
  out.push('');
  out.push(`Logs: \`${sc.logDir}\` (a folder per step and replica).`);
  return out;
}

function qualityTable(rows: readonly ModeQuality[]): string {
  return table(
    [
      'mode',
      'queries',
      'nDCG@10',
      'recall@5',
      'recall@10',
      'MRR',
      'identifier first',
      'search p50 ms',
      'p99 ms',
    ],
    rows.map((m) => [
      m.mode,
      m.queries,
      f(m.ndcgAt10, 4),
      f(m.recallAt5, 4),
      f(m.recallAt10, 4),
      f(m.mrr, 4),
      m.identifierFirst ? `${m.identifierFirst.first}/${m.identifierFirst.of}` : '–',
      f(m.latencyMs.p50, 2),
      f(m.latencyMs.p99, 2),
    ]),
  );
}

function renderRetrieval(r: RetrievalResult): string[] {
  const out = ['## Retrieval quality, through the pipeline', ''];
  out.push(
    'The built gateway and workers as processes with the local embedding model; documents uploaded over HTTP, ' +
      'questions asked through `POST /v1/search` in each mode (topK 10; SciFact 30, counted per document). ' +
      'Latency = the HTTP search as a client sees it.',
  );
  if (r.embedding) {
    const e = r.embedding;
    out.push(
      '',
      `### Local embedding model (${e.texts} texts of the labelled set, batches of ${e.batchSize})`,
      '',
    );
    out.push(
      table(
        ['how', 'chunks/s', 'ratio to the model called directly'],
        [
          ['the model called directly, batch after batch (raw engine)', f(e.rawChunksPerSec), '1'],
          ...e.providerChunksPerSec.map((p) => [
            `provider, ${p.threads} thread(s), one call per text`,
            f(p.chunksPerSec),
            f(p.ratioToRaw, 2),
          ]),
        ],
      ),
    );
  }
  if (r.labelled) {
    out.push(
      '',
      `### Labelled set (bench/retrieval-set: ${r.labelled.documents} documents, ${r.labelled.questions} questions)`,
    );
    out.push('', qualityTable(r.labelled.byMode), '');
    out.push(
      table(
        ['kind of question', 'keyword nDCG@10', 'vector nDCG@10', 'hybrid nDCG@10'],
        Object.entries(r.labelled.byKind).map(([kind, m]) => [
          kind,
          f(m.keyword, 4),
          f(m.vector, 4),
          f(m.hybrid, 4),
        ]),
      ),
    );
  }
  if (r.scifact) {
    out.push(
      '',
      `### BEIR SciFact (${r.scifact.documents} abstracts, ${r.scifact.queries} claims; indexed in ${r.scifact.ingestSeconds} s)`,
    );
    out.push('', qualityTable(r.scifact.byMode), '');
    out.push(`BM25's published nDCG@10 on this split: ${r.scifact.publishedBm25NdcgAt10}.`);
  }
  if (r.skipped) out.push('', `_${r.skipped}._`);
  return out;
}

function renderSearch(s: SearchResult): string[] {
  const yes = (met: boolean) => (met ? 'yes' : '**no**');
  const out = [`## Search over ${s.rows.chunks.toLocaleString('en')} chunks, right after a bulk ingest`, ''];
  out.push(
    `A database of its own with the real migrations, autovacuum off on every table. ${s.rows.chunks} chunks over ` +
      `${s.rows.documents} documents of one tenant and ${s.rows.otherTenantChunks} over ${s.rows.otherTenantDocuments} ` +
      `of another, written through the analysis worker's path (jobs created, documents claimed, extracted with their ` +
      `pages, claimed and completed by \`IndexingRepository.completeIndexing\` with their ${s.model.dim}-d vectors, ` +
      `model \`${s.model.id}\`, \`english\` configuration; ${s.ingest.chunksPerStatement} chunks a statement) in ` +
      `${s.ingest.seconds} s (${s.ingest.chunksPerSec} chunks/s; the triggers wrote ${s.rows.postings.toLocaleString('en')} ` +
      `postings). Corpus: ${s.corpus}. Then, **with no ANALYZE run**, every query through ` +
      `\`ChunksRepository.search\` (the call the worker makes, topK ${s.queries.topK}), hybrid, vector and keyword ` +
      `in turn (each first for a third of the queries), one at a time, after ${s.queries.warmup} warm-up searches; then ANALYZE and the same queries again. ` +
      `Sets: **all** = ${s.queries.main} queries on the large tenant; **tags**, **metadata** (one department), ` +
      `**documentIds** (5 documents) = ${s.queries.filtered / 3} queries each with that filter; **other tenant** = ` +
      `${s.queries.otherTenant} on the small tenant. Recall@10 = share of the exact top 10 (cosine distance over ` +
      'every chunk the query may see, computed from the generated vectors) among the vector mode’s 10 results. ' +
      'Latency = the repository call (every statement it runs included), ms.',
  );
  out.push('');
  out.push(
    table(
      ['statistics', 'target', 'value', 'met?'],
      s.phases.flatMap((p) => [
        [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          `hybrid p99 ≤ ${s.targets.hybridP99Ms} ms`,
          f(p.hybridP99Ms, 2),
          yes(p.met.hybridP99),
        ],
        [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          `vector recall@10 ≥ ${s.targets.vectorRecallAt10}`,
          f(p.vectorRecallAt10, 4),
          yes(p.met.vectorRecall),
        ],
      ]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['statistics', 'set', 'mode', 'queries', 'p50', 'p95', 'p99', 'max', 'recall@10', 'short pages'],
      s.phases.flatMap((p) =>
        p.sets.map((x) => [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          x.set,
          x.mode,
          x.queries,
          ...ms(x.latencyMs),
          f(x.latencyMs.max, 2),
          x.recallAt10 === null ? '–' : f(x.recallAt10, 4),
          x.mode === 'vector' ? x.short : '–',
        ]),
      ),
    ),
  );
  out.push('');
  out.push(
    'The main set by the postings of its queries’ terms (what an exhaustive BM25 reads; the pruned ranking leaves a ' +
      'common term’s postings unread where it cannot change the top, ADR 27 §11), ms:',
  );
  out.push('');
  out.push(
    table(
      ['statistics', 'postings', 'queries', 'hybrid p50', 'hybrid p99', 'keyword p50', 'keyword p99'],
      s.phases.flatMap((p) =>
        p.byPostings.map((b) => [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          b.to === null
            ? `≥ ${b.from.toLocaleString('en')}`
            : `${b.from.toLocaleString('en')}–${b.to.toLocaleString('en')}`,
          b.queries,
          f(b.hybridMs.p50, 2),
          f(b.hybridMs.p99, 2),
          f(b.keywordMs.p50, 2),
          f(b.keywordMs.p99, 2),
        ]),
      ),
    ),
  );
  out.push('');
  out.push(
    'The main set by turn: each mode runs first for a third of the queries, reading the query’s postings into ' +
      'PostgreSQL’s shared buffers from the system’s cache; after it, keyword and hybrid find them there, ms:',
  );
  out.push('');
  out.push(
    table(
      ['statistics', 'mode', 'first: queries', 'p50', 'p99', 'after another: queries', 'p50', 'p99'],
      s.phases.flatMap((p) =>
        // Results written before the split have none.
        (p.byTurn ?? []).map((t) => [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          t.mode,
          t.firstMs.n,
          f(t.firstMs.p50, 2),
          f(t.firstMs.p99, 2),
          t.laterMs.n,
          f(t.laterMs.p50, 2),
          f(t.laterMs.p99, 2),
        ]),
      ),
    ),
  );
  out.push('');
  out.push('The main set’s five slowest hybrid searches, with the postings of each of their terms, ms:');
  out.push('');
  out.push(
    table(
      ['statistics', 'query', 'postings per term', 'hybrid', 'keyword', 'vector'],
      s.phases.flatMap((p) =>
        // Results written before the list existed have none.
        (p.slowest ?? []).map((q) => [
          p.statistics === 'none' ? 'none' : 'after ANALYZE',
          `\`${q.query}\``,
          q.termPostings.map((n) => n.toLocaleString('en')).join(' + '),
          f(q.ms.hybrid ?? NaN, 2),
          f(q.ms.keyword ?? NaN, 2),
          f(q.ms.vector ?? NaN, 2),
        ]),
      ),
    ),
  );
  out.push('');
  out.push(
    s.phases
      .map(
        (p) =>
          `${p.statistics === 'none' ? 'Before' : `After ANALYZE (${p.analyzeMs ?? '?'} ms)`}: pg_class.reltuples ` +
          `chunks ${p.reltuples.chunks}, chunk_terms ${p.reltuples.chunkTerms}` +
          (p.gc
            ? `, garbage-collection pauses of the bench process in ${p.gc.withPause} of the ${p.gc.hybridSearches} ` +
              `main hybrid searches (${p.gc.pauseMs} ms in all)`
            : ''),
      )
      .join('; ') +
      ' (−1: never analyzed). Short pages: vector queries that returned fewer than 10 results though 10 chunks qualified.',
  );
  return out;
}
