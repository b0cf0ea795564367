// What observability costs the gateway: POST /v1/documents with the OpenTelemetry SDK disabled, on
// without an exporter (the default) and exporting OTLP to a loopback receiver, measured side by side
// in one run; and what one Prometheus scrape of GET /metrics costs.
import type { Logger } from '@quarry/telemetry';
import { OtlpReceiver, waitFor } from '@quarry/testing';
import type { BenchOptions } from './args';
import { processCpuMs } from './cpu';
import {
  measureRequests,
  startBenchGateway,
  toPhase,
  warmUp,
  type BenchGateway,
  type HttpPhase,
  type PhaseSamples,
} from './http';
import { decodeExportTraceRequest, SPAN_KIND_SERVER } from './otlp-protobuf';
import { ratio, summarize, type LatencySummary } from './stats';

export type OtelVariantKey = 'a' | 'b' | 'c';

export interface OtelVariantResult {
  key: OtelVariantKey;
  label: string;
  /** The OTEL_* variables the gateway got (nothing else differs between the variants). */
  env: Record<string, string>;
  startupMs: number;
  gatewayLog: string;
  /** Sequential, then concurrent: samples of every round merged. */
  phases: HttpPhase[];
  /** p50 of each round, per phase (same order as phases): how much the rounds disagree. */
  roundP50: number[][];
  /** Gateway CPU from the first measured round to the end of the last, over its measured requests:
   * includes what it did while the other variants were measured (pollers, deferred batch exports). */
  sectionCpuMs: number;
  sectionCpuMsPerRequest: number;
}

export interface OtlpExportSummary {
  exportRequests: number;
  bodyBytes: number;
  spans: number;
  traces: number;
  /** SERVER spans without a parent: one per traced HTTP request. */
  rootServerSpans: number;
  /** Uploads sent to variant c, warm-up included (probes and scrapes are not traced). */
  uploadsSent: number;
  spansPerRootServerSpan: number;
  /** Spans by name, most frequent first (the first 12). */
  topSpanNames: { name: string; count: number }[];
  /** How long after the last measured request the receiver had every upload's root span. */
  flushWaitMs: number;
  decodeErrors: number;
}

export interface MetricsScrapeResult {
  /** Which variant's gateway was scraped. */
  variant: OtelVariantKey;
  status: number;
  available: boolean;
  scrapes: number;
  warmup: number;
  latency?: LatencySummary;
  bytes?: number;
  /** Sample lines (not comments) and metric families (# TYPE lines) of the last exposition. */
  samples?: number;
  families?: number;
  contentType?: string;
  gatewayCpuMsPerScrape?: number;
  unexpected?: number;
}

export interface OtelRatios {
  phase: string;
  concurrency: number;
  variant: OtelVariantKey;
  p50: number;
  p99: number;
  perSec: number;
  cpuPerRequest: number;
}

export interface OtelResult {
  requestsPerPhase: number;
  rounds: number;
  warmup: number;
  concurrency: number;
  fileBytes: number;
  /** How the variants were scheduled, in words, for the report. */
  schedule: string;
  variants: OtelVariantResult[];
  /** Variant / variant a, per phase. */
  ratios: OtelRatios[];
  otlp: OtlpExportSummary;
  metrics: MetricsScrapeResult;
}

interface VariantSpec {
  key: OtelVariantKey;
  label: string;
  env: (receiver: OtlpReceiver) => Record<string, string>;
}

const VARIANTS: VariantSpec[] = [
  { key: 'a', label: 'SDK disabled', env: () => ({ OTEL_SDK_DISABLED: 'true' }) },
  { key: 'b', label: 'SDK on, no exporter (default)', env: () => ({}) },
  {
    key: 'c',
    label: 'SDK on, OTLP http/protobuf to loopback',
    env: (r) => ({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: r.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    }),
  },
];

/** `total` split into `parts` chunks that differ by at most one. */
function chunks(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

function merge(parts: PhaseSamples[]): PhaseSamples {
  const childCpu = parts.map((p) => p.cpu.childCpuMs);
  const total = parts.reduce((a, p) => a + p.elapsedMs, 0);
  // Machine busy and event-loop use are weighted by each part's wall time.
  const weighted = (pick: (p: PhaseSamples) => number) =>
    Math.round((parts.reduce((a, p) => a + pick(p) * p.elapsedMs, 0) / Math.max(1, total)) * 1000) / 1000;
  return {
    samples: parts.flatMap((p) => p.samples),
    elapsedMs: total,
    unexpected: parts.reduce((a, p) => a + p.unexpected, 0),
    cpu: {
      benchCpuMs: Math.round(parts.reduce((a, p) => a + p.cpu.benchCpuMs, 0) * 10) / 10,
      eventLoopUtilization: weighted((p) => p.cpu.eventLoopUtilization),
      machineBusy: weighted((p) => p.cpu.machineBusy),
      machineCpuMs: Math.round(parts.reduce((a, p) => a + p.cpu.machineCpuMs, 0) * 10) / 10,
      ...(childCpu.every((c) => c !== undefined)
        ? { childCpuMs: Math.round(childCpu.reduce((a, c) => a + c, 0) * 10) / 10 }
        : {}),
    },
  };
}

/** Decodes the receiver's protobuf requests once each, as they arrive. */
class ExportTally {
  private seen = 0;
  bodyBytes = 0;
  decodeErrors = 0;
  readonly traces = new Set<string>();
  readonly names = new Map<string, number>();
  spans = 0;
  rootServerSpans = 0;

  constructor(
    private readonly receiver: OtlpReceiver,
    private readonly logger: Logger,
  ) {}

  update(): this {
    for (; this.seen < this.receiver.requests.length; this.seen++) {
      const request = this.receiver.requests[this.seen];
      if (!request) continue;
      this.bodyBytes += request.body.length;
      try {
        for (const span of decodeExportTraceRequest(request.body)) {
          this.spans++;
          this.traces.add(span.traceId);
          this.names.set(span.name, (this.names.get(span.name) ?? 0) + 1);
          if (span.kind === SPAN_KIND_SERVER && /^0*$/.test(span.parentSpanId)) this.rootServerSpans++;
        }
      } catch (error) {
        this.decodeErrors++;
        this.logger.warn({ err: error, contentType: request.contentType }, 'undecodable OTLP request');
      }
    }
    return this;
  }

  get exportRequests(): number {
    return this.receiver.requests.length;
  }
}

export async function scrapeMetrics(
  gateway: BenchGateway,
  variant: OtelVariantKey,
  scrapes: number,
  logger: Logger,
  progress: (line: string) => void,
): Promise<MetricsScrapeResult> {
  const url = `${gateway.baseUrl}/metrics`;
  const first = await fetch(url);
  const firstText = await first.text();
  if (first.status !== 200) {
    progress(`metrics: GET /metrics answered ${first.status}; scrape cost not measured`);
    return { variant, status: first.status, available: false, scrapes: 0, warmup: 1 };
  }
  const warmup = 5;
  for (let i = 0; i < warmup - 1; i++) await (await fetch(url)).arrayBuffer();
  progress(`metrics: ${scrapes} scrapes of GET /metrics (gateway ${variant})`);
  let last = firstText;
  let contentType = first.headers.get('content-type') ?? '';
  const s = await measureRequests(
    gateway,
    scrapes,
    1,
    200,
    async () => {
      const response = await fetch(url);
      last = await response.text();
      contentType = response.headers.get('content-type') ?? contentType;
      return response.status;
    },
    logger,
    'GET /metrics',
  );
  const lines = last.split('\n');
  return {
    variant,
    status: 200,
    available: true,
    scrapes,
    warmup,
    latency: summarize(s.samples),
    bytes: Buffer.byteLength(last),
    samples: lines.filter((l) => l.trim() !== '' && !l.startsWith('#')).length,
    families: lines.filter((l) => l.startsWith('# TYPE ')).length,
    contentType,
    gatewayCpuMsPerScrape: Math.round(((s.cpu.childCpuMs ?? NaN) / scrapes) * 100) / 100,
    unexpected: s.unexpected,
  };
}

export async function runOtel(
  options: BenchOptions,
  repoRoot: string,
  logger: Logger,
  progress: (line: string) => void,
): Promise<OtelResult> {
  const receiver = await OtlpReceiver.start();
  const gateways = new Map<OtelVariantKey, BenchGateway>();
  try {
    // One after the other, so that each start-up time is its own (the SDK's start is part of it).
    for (const v of VARIANTS)
      gateways.set(
        v.key,
        await startBenchGateway(`otel${v.key}`, v.env(receiver), options, repoRoot, logger, progress),
      );
    const gw = (key: OtelVariantKey) => {
      const g = gateways.get(key);
      if (!g) throw new Error(`no gateway for variant ${key}`);
      return g;
    };

    const warmup = options.otelWarmup;
    const concurrency = options.httpConcurrency;
    for (const v of VARIANTS) {
      progress(`otel: ${warmup} warm-up uploads + ${warmup} at concurrency ${concurrency}, gateway ${v.key}`);
      await warmUp(gw(v.key), warmup);
      const concurrent = await measureRequests(
        gw(v.key),
        warmup,
        concurrency,
        202,
        gw(v.key).upload,
        logger,
        'warm-up',
      );
      if (concurrent.unexpected > 0)
        throw new Error(
          `${concurrent.unexpected} warm-up upload(s) not accepted; see ${gw(v.key).process.logFile}`,
        );
    }

    // A round with no requests would have no latency to report.
    const rounds = Math.min(options.otelRounds, options.otelRequests);
    const perRound = chunks(options.otelRequests, rounds);
    const phaseSpecs = [
      { name: 'POST /v1/documents', concurrency: 1 },
      { name: 'POST /v1/documents', concurrency },
    ];
    const parts = new Map<string, PhaseSamples[]>();
    const keyOf = (v: OtelVariantKey, phase: number) => `${v}/${phase}`;
    const cpu0 = new Map(VARIANTS.map((v) => [v.key, processCpuMs(gw(v.key).process.pid ?? -1)]));
    const sectionStart = performance.now();
    for (let r = 0; r < rounds; r++) {
      // Rotated each round (a b c, b c a, c a b, …) so no variant always runs first or right after another.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]).filter(
        (v): v is VariantSpec => v !== undefined,
      );
      for (const [p, spec] of phaseSpecs.entries()) {
        const n = perRound[r] ?? 0;
        progress(
          `otel: round ${r + 1}/${rounds}, ${spec.name} c${spec.concurrency}, ${n} requests each, order ${order.map((v) => v.key).join(' ')}`,
        );
        for (const v of order) {
          const g = gw(v.key);
          const s = await measureRequests(g, n, spec.concurrency, 202, g.upload, logger, `otel ${v.key}`);
          parts.set(keyOf(v.key, p), [...(parts.get(keyOf(v.key, p)) ?? []), s]);
        }
      }
    }
    const sectionMs = performance.now() - sectionStart;
    const variants: OtelVariantResult[] = VARIANTS.map((v) => {
      const g = gw(v.key);
      const phases = phaseSpecs.map((spec, p) =>
        toPhase(spec.name, spec.concurrency, merge(parts.get(keyOf(v.key, p)) ?? [])),
      );
      const before = cpu0.get(v.key);
      const after = processCpuMs(g.process.pid ?? -1);
      const sectionCpuMs =
        before === undefined || after === undefined ? NaN : Math.round((after - before) * 10) / 10;
      const requests = phases.reduce((a, p) => a + p.requests, 0);
      return {
        key: v.key,
        label: v.label,
        env: v.env(receiver),
        startupMs: g.startupMs,
        gatewayLog: g.logFile,
        phases,
        roundP50: phaseSpecs.map((_, p) =>
          (parts.get(keyOf(v.key, p)) ?? []).map((s) => summarize(s.samples).p50),
        ),
        sectionCpuMs,
        sectionCpuMsPerRequest: Math.round((sectionCpuMs / requests) * 100) / 100,
      };
    });
    progress(`otel: measured section took ${Math.round(sectionMs / 1000)} s`);

    // Export is batched (OTEL_BSP_SCHEDULE_DELAY, 5 s by default): wait for every upload's root span.
    const tally = new ExportTally(receiver, logger);
    const uploadsSent = 2 * warmup + 2 * options.otelRequests;
    const flushStarted = performance.now();
    await waitFor(() => tally.update().rootServerSpans >= uploadsSent, {
      timeoutMs: 20_000,
      intervalMs: 200,
      description: 'every upload of variant c exported',
    }).catch(() =>
      progress(`otel: receiver has ${tally.rootServerSpans} of ${uploadsSent} root spans after 20 s`),
    );
    const flushWaitMs = Math.round(performance.now() - flushStarted);
    tally.update();
    const otlp: OtlpExportSummary = {
      exportRequests: tally.exportRequests,
      bodyBytes: tally.bodyBytes,
      spans: tally.spans,
      traces: tally.traces.size,
      rootServerSpans: tally.rootServerSpans,
      uploadsSent,
      spansPerRootServerSpan: ratio(tally.spans, tally.rootServerSpans),
      topSpanNames: [...tally.names.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 12)
        .map(([name, count]) => ({ name, count })),
      flushWaitMs,
      decodeErrors: tally.decodeErrors,
    };

    const metrics = await scrapeMetrics(gw('b'), 'b', options.metricsScrapes, logger, progress);

    const a = variants.find((v) => v.key === 'a');
    const ratios: OtelRatios[] = [];
    for (const v of variants) {
      if (!a || v.key === 'a') continue;
      v.phases.forEach((p, i) => {
        const base = a.phases[i];
        if (!base) return;
        ratios.push({
          phase: p.name,
          concurrency: p.concurrency,
          variant: v.key,
          p50: ratio(p.latency.p50, base.latency.p50),
          p99: ratio(p.latency.p99, base.latency.p99),
          perSec: ratio(p.perSec, base.perSec),
          cpuPerRequest: ratio(p.gatewayCpuMsPerRequest, base.gatewayCpuMsPerRequest),
        });
      });
    }
    return {
      requestsPerPhase: options.otelRequests,
      rounds,
      warmup,
      concurrency,
      fileBytes: options.fileBytes,
      schedule:
        `the three gateways run side by side (each its own database and NATS namespace); after the same warm-up ` +
        `(${warmup} sequential + ${warmup} concurrent uploads each), ${rounds} rounds, each running the sequential ` +
        `phase for every variant, then the concurrent phase for every variant, in an order rotated every round ` +
        `(a b c, b c a, c a b, …); ${perRound.join('/')} requests per variant per phase per round, samples merged`,
      variants,
      ratios,
      otlp,
      metrics,
    };
  } finally {
    for (const g of gateways.values()) await g.close();
    await receiver.close();
  }
}
