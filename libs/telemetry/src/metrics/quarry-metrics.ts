import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { Logger } from '../logger';
import {
  METRICS,
  PROCESS_METRICS_PREFIX,
  type MetricDefinition,
  type MetricKind,
  type MetricLabels,
  type MetricName,
  type QuarryApp,
} from './catalogue';

/**
 * The version `quarry_build_info` reports. A constant rather than a read of package.json at run time:
 * the built apps run from dist/ where no package.json need be, and a unit test keeps the two equal.
 */
export const QUARRY_VERSION = '0.1.0';

type NamesOfKind<K extends MetricKind> = {
  [N in MetricName]: (typeof METRICS)[N]['kind'] extends K ? N : never;
}[MetricName];
export type CounterName = NamesOfKind<'counter'>;
export type GaugeName = NamesOfKind<'gauge'>;
export type HistogramName = NamesOfKind<'histogram'>;

/** Every label of the metric, by name: a missing or misspelt label is a compile error. */
export type LabelValues<N extends MetricName> = { [L in MetricLabels<N>]: string | number };

export interface QuarryCounter<N extends CounterName> {
  inc(labels: LabelValues<N>, value?: number): void;
}

export interface QuarryGauge<N extends GaugeName> {
  set(labels: LabelValues<N>, value: number): void;
  /** Drops every series, so a scrape-time gauge shows only what its collector just read. */
  reset(): void;
}

export interface QuarryHistogram<N extends HistogramName> {
  /** `seconds` for every duration histogram of the catalogue. */
  observe(labels: LabelValues<N>, value: number): void;
}

/** What a finished job tells the metrics (a `FinishedJob` of @quarry/persistence, through the after-commit port). */
export interface JobFinishedSample {
  type: string;
  status: string;
  createdAt: Date;
  finishedAt: Date;
}

/** Runs at scrape time, before the text is rendered, to set gauges read from elsewhere (JetStream). */
export type MetricsCollector = () => Promise<void>;

export interface QuarryMetricsOptions {
  app: QuarryApp;
  /** Node.js process metrics (CPU, memory, event loop); off in unit tests that make many instances. */
  processMetrics?: boolean;
  /** Where a failing collector is reported. */
  logger?: Logger;
  /** A scrape waits at most this long for the collectors, then renders what it has. */
  collectTimeoutMs?: number;
}

/**
 * Quarry's Prometheus instruments, made from the catalogue on a registry of their own (never the
 * global one, so two instances in one test process do not collide), with `app` on every series.
 */
export class QuarryMetrics {
  readonly app: QuarryApp;
  private readonly registry = new Registry();
  /** prom-client's instruments, typed by the accessors below from the catalogue. */
  private readonly instruments = new Map<MetricName, Metric>();
  private readonly collectors: { name: string; collect: MetricsCollector }[] = [];
  private readonly logger: Logger | undefined;
  private readonly collectTimeoutMs: number;

  constructor(options: QuarryMetricsOptions) {
    this.app = options.app;
    this.logger = options.logger;
    this.collectTimeoutMs = options.collectTimeoutMs ?? 3000;
    this.registry.setDefaultLabels({ app: options.app });
    for (const [name, def] of Object.entries(METRICS) as [MetricName, MetricDefinition][]) {
      this.instruments.set(name, instrument(name, def, this.registry));
    }
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: PROCESS_METRICS_PREFIX });
    }
    this.gauge('quarry_build_info').set({ version: QUARRY_VERSION }, 1);
  }

  counter<N extends CounterName>(name: N): QuarryCounter<N> {
    return this.instruments.get(name) as QuarryCounter<N>;
  }

  gauge<N extends GaugeName>(name: N): QuarryGauge<N> {
    return this.instruments.get(name) as QuarryGauge<N>;
  }

  histogram<N extends HistogramName>(name: N): QuarryHistogram<N> {
    return this.instruments.get(name) as QuarryHistogram<N>;
  }

  /** Counts a job that reached its final status, and how long it took from acceptance. */
  jobFinished(job: JobFinishedSample | undefined): void {
    if (!job) return;
    const labels = { type: job.type, status: job.status };
    this.counter('quarry_jobs_finished_total').inc(labels);
    const seconds = (job.finishedAt.getTime() - job.createdAt.getTime()) / 1000;
    this.histogram('quarry_job_duration_seconds').observe(labels, Math.max(0, seconds));
  }

  /** Registers a collector that runs on every scrape; it must bound its own cost (cache, timeout). */
  addCollector(name: string, collect: MetricsCollector): void {
    this.collectors.push({ name, collect });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every series, after running the collectors. */
  async metrics(): Promise<string> {
    await Promise.all(this.collectors.map((c) => this.runCollector(c)));
    return this.registry.metrics();
  }

  private async runCollector(c: { name: string; collect: MetricsCollector }): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.collect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`collector took longer than ${this.collectTimeoutMs} ms`)),
            this.collectTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      // A collector's trouble costs its own series, never the whole scrape.
      this.logger?.warn({ err: error, collector: c.name }, 'metrics collector failed');
    } finally {
      clearTimeout(timer);
    }
  }
}

function instrument(name: MetricName, def: MetricDefinition, registry: Registry): Metric {
  const common = { name, help: def.help, labelNames: [...def.labels], registers: [registry] };
  switch (def.kind) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, ...(def.buckets ? { buckets: [...def.buckets] } : {}) });
  }
}
