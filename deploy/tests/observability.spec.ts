import { loadConfig } from '@quarry/config';
import { exportedSeriesNames } from '@quarry/telemetry';
import { z } from 'zod';
import {
  APPS,
  composeServices,
  deployPath,
  endpoints,
  probePort,
  readJson,
  readAlertRules,
  readYaml,
  type ComposeService,
} from './deploy-files';
import { knownSeriesNames, labelProblems, metricsIn, processSeriesNames, unknownMetrics } from './promql';

const services = composeServices('compose.yaml');
const service = (name: string): ComposeService => {
  const s = services.get(name);
  if (!s) throw new Error(`compose has no service "${name}"`);
  return s;
};
/** Where compose mounts a file or folder of deploy/ into a service. */
const mountTarget = (name: string, source: string): string | undefined =>
  service(name).volumes.find((v) => v.source === source)?.target;

// ---------------------------------------------------------------------------------------------------
// The dashboard and the alert rules

const Target = z.object({
  expr: z.string().optional(),
  datasource: z.object({ type: z.string(), uid: z.string() }).optional(),
});
interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string } | undefined;
  targets?: z.infer<typeof Target>[] | undefined;
  panels?: Panel[] | undefined;
}
const PanelSchema: z.ZodType<Panel> = z.lazy(() =>
  z.object({
    type: z.string(),
    title: z.string(),
    datasource: z.object({ type: z.string(), uid: z.string() }).optional(),
    targets: z.array(Target).optional(),
    panels: z.array(PanelSchema).optional(),
  }),
);
const Dashboard = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(PanelSchema),
  templating: z.object({ list: z.array(z.object({ query: z.unknown().optional() })) }).optional(),
});
const dashboard = Dashboard.parse(readJson(deployPath('grafana', 'dashboards', 'quarry.json')));
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])));

const alertRules = readAlertRules();

describe('PromQL in the dashboard and alert rules', () => {
  let known: Set<string>;
  beforeAll(async () => {
    known = await knownSeriesNames();
  });

  it('the check knows the catalogue and the real prom-client process metrics, and rejects a misspelling', async () => {
    expect(known).toContain('quarry_step_duration_seconds_bucket');
    expect(known).toContain('quarry_process_cpu_seconds_total');
    expect(known).toContain('quarry_nodejs_eventloop_lag_p99_seconds');
    expect(await processSeriesNames()).not.toContain('quarry_process_cpu_total');
    expect(unknownMetrics('sum(rate(quarry_jobs_finishd_total[5m]))', known)).toEqual([
      'quarry_jobs_finishd_total',
    ]);
    expect(unknownMetrics('quarry_process_resident_memory', known)).toEqual([
      'quarry_process_resident_memory',
    ]);
    // A label value that looks like a metric name is not one.
    expect(
      unknownMetrics('max(quarry_consumer_pending_messages{consumer="quarry_ingest_bulk"})', known),
    ).toEqual([]);
  });

  it('the label check rejects a label the metric does not have', () => {
    expect(labelProblems('sum by (consumer) (rate(quarry_jobs_finished_total[5m]))')).toHaveLength(1);
    expect(labelProblems('quarry_http_requests_total{code="500"}')).toHaveLength(1);
    expect(
      labelProblems('sum by (le, step) (rate(quarry_step_duration_seconds_bucket{lane="bulk"}[5m]))'),
    ).toEqual(['quarry_step_duration_seconds_bucket has no label "lane"']);
    expect(
      labelProblems('sum by (app, status) (rate(quarry_jobs_finished_total{status="failed"}[5m]))'),
    ).toEqual([]);
  });

  it('the dashboard queries only metrics the apps export, with their labels', () => {
    expect(dashboardExprs.length).toBeGreaterThanOrEqual(20);
    for (const expr of dashboardExprs) {
      expect({ expr, unknown: unknownMetrics(expr, known) }).toEqual({ expr, unknown: [] });
      expect({ expr, problems: labelProblems(expr) }).toEqual({ expr, problems: [] });
    }
  });

  it('the alert rules query only metrics the apps export, with their labels', () => {
    expect(alertRules.length).toBeGreaterThanOrEqual(10);
    for (const { expr } of alertRules) {
      expect({ expr, unknown: unknownMetrics(expr, known) }).toEqual({ expr, unknown: [] });
      expect({ expr, problems: labelProblems(expr) }).toEqual({ expr, problems: [] });
    }
  });

  it('the dashboard shows throughput, latency by step, failures, dead letters, lag, pages, chunks, embedding, HTTP', () => {
    const used = new Set(dashboardExprs.flatMap(metricsIn));
    for (const m of [
      'quarry_jobs_finished_total',
      'quarry_step_duration_seconds_bucket',
      'quarry_documents_processed_total',
      'quarry_dead_letters_total',
      'quarry_consumer_pending_messages',
      'quarry_consumer_ack_pending_messages',
      'quarry_pages_extracted_total',
      'quarry_chunks_indexed_total',
      'quarry_embedding_duration_seconds_bucket',
      'quarry_http_request_duration_seconds_bucket',
      'quarry_http_requests_total',
    ]) {
      expect(used).toContain(m);
    }
    const latency = dashboardExprs.filter((e) => e.includes('quarry_step_duration_seconds_bucket'));
    expect(latency.some((e) => e.startsWith('histogram_quantile(0.5,'))).toBe(true);
    expect(latency.some((e) => e.startsWith('histogram_quantile(0.95,'))).toBe(true);
    expect(dashboardExprs.some((e) => /quarry_http_requests_total\{status=~"5\.\."\}/.test(e))).toBe(true);
  });

  it('every catalogue metric family is on the dashboard or in an alert', () => {
    const used = new Set([...dashboardExprs, ...alertRules.map((r) => r.expr)].flatMap(metricsIn));
    const families = new Set([...exportedSeriesNames()].map((s) => s.replace(/_(bucket|sum|count)$/, '')));
    const shown = [...families].filter((f) => [...used].some((u) => u === f || u.startsWith(`${f}_`)));
    expect([...families].filter((f) => !shown.includes(f))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Grafana

const Datasources = z.object({
  datasources: z.array(z.object({ name: z.string(), uid: z.string(), type: z.string(), url: z.string() })),
});
const DashboardProviders = z.object({
  providers: z.array(z.object({ type: z.literal('file'), options: z.object({ path: z.string() }) })),
});

describe('Grafana provisioning', () => {
  const datasources = Datasources.parse(
    readYaml(deployPath('grafana', 'provisioning', 'datasources', 'datasources.yaml')),
  ).datasources;

  it('provisions Prometheus and Jaeger with fixed uids, at the compose services', () => {
    const byType = Object.fromEntries(datasources.map((d) => [d.type, d]));
    expect(new URL(byType.prometheus!.url).host).toBe('prometheus:9090');
    expect(new URL(byType.jaeger!.url).host).toBe('jaeger:16686');
    expect(service('prometheus').command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });

  it('every datasource uid the dashboard uses is provisioned, with the same type', () => {
    const refs = panels.flatMap((p) => [
      ...(p.datasource ? [p.datasource] : []),
      ...(p.targets ?? []).flatMap((t) => (t.datasource ? [t.datasource] : [])),
    ]);
    expect(refs.length).toBeGreaterThan(0);
    expect(new Set(refs.map((r) => r.type))).toEqual(new Set(['prometheus', 'jaeger']));
    for (const ref of refs) {
      expect(datasources.find((d) => d.uid === ref.uid)?.type).toBe(ref.type);
    }
    // Every query panel names its datasource, so nothing depends on which one is the default.
    for (const p of panels.filter((p) => p.type !== 'row')) expect(p.datasource).toBeDefined();
  });

  it('the dashboard provider reads the folder compose mounts the dashboards into', () => {
    const providers = DashboardProviders.parse(
      readYaml(deployPath('grafana', 'provisioning', 'dashboards', 'dashboards.yaml')),
    ).providers;
    expect(mountTarget('grafana', '../grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(providers.map((p) => p.options.path)).toContain(mountTarget('grafana', '../grafana/dashboards'));
    expect(dashboard.uid).toBe('quarry');
  });
});

// ---------------------------------------------------------------------------------------------------
// Prometheus

const PrometheusConfig = z.object({
  rule_files: z.array(z.string()),
  scrape_configs: z.array(
    z.object({
      job_name: z.string(),
      metrics_path: z.string().optional(),
      static_configs: z.array(z.object({ targets: z.array(z.string()) })).optional(),
      dns_sd_configs: z.array(z.object({ names: z.array(z.string()), port: z.number() })).optional(),
    }),
  ),
});

describe('Prometheus', () => {
  const config = PrometheusConfig.parse(readYaml(deployPath('prometheus', 'prometheus.yml')));

  it('loads the alert rules from where compose mounts them', () => {
    expect(config.rule_files).toContain(mountTarget('prometheus', '../prometheus/alerts.yml'));
    expect(mountTarget('prometheus', '../prometheus/prometheus.yml')).toBe('/etc/prometheus/prometheus.yml');
  });

  it.each(APPS.map((app) => [app]))('scrapes %s at its metrics port, /metrics', (app) => {
    const port = probePort(app, loadConfig(service(app).environment));
    const jobs = config.scrape_configs.filter((j) => j.job_name === `quarry-${app}`);
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = [
      ...(job.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => ({ host: n, port: d.port }))),
      ...(job.static_configs ?? []).flatMap((s) => s.targets.map((t) => endpoints(`http://${t}`)[0]!)),
    ];
    expect(targets).toEqual([{ host: app, port }]);
  });

  it('the QuarryAppDown rule matches the app scrape jobs', () => {
    const rule = alertRules.find((r) => r.alert === 'QuarryAppDown')!;
    const pattern = new RegExp(`^${/job=~"([^"]+)"/.exec(rule.expr)![1]!}$`);
    for (const app of APPS) expect(`quarry-${app}`).toMatch(pattern);
    expect('prometheus').not.toMatch(pattern);
  });
});

// ---------------------------------------------------------------------------------------------------
// OpenTelemetry collector → Jaeger

const Collector = z.object({
  receivers: z.record(z.string(), z.unknown()),
  processors: z.record(z.string(), z.unknown()),
  exporters: z.record(
    z.string(),
    z.object({ endpoint: z.string(), tls: z.object({ insecure: z.boolean() }).optional() }),
  ),
  service: z.object({
    pipelines: z.record(
      z.string(),
      z.object({
        receivers: z.array(z.string()),
        processors: z.array(z.string()),
        exporters: z.array(z.string()),
      }),
    ),
  }),
});

describe('OpenTelemetry collector', () => {
  const collector = Collector.parse(readYaml(deployPath('otel-collector', 'config.yaml')));
  const traces = collector.service.pipelines.traces;

  it('has a traces pipeline from the OTLP receiver through batch', () => {
    expect(traces).toBeDefined();
    expect(traces!.receivers).toEqual(['otlp']);
    expect(traces!.processors).toContain('batch');
    for (const p of traces!.processors) expect(Object.keys(collector.processors)).toContain(p);
  });

  it('exports traces to Jaeger by OTLP/gRPC, which the Jaeger service listens for', () => {
    const toJaeger = traces!.exporters
      .map((name) => ({ name, config: collector.exporters[name] }))
      .filter((e) => e.config && e.config.endpoint.split(':')[0] === 'jaeger');
    expect(toJaeger).toHaveLength(1);
    expect(toJaeger[0]!.name).toMatch(/^otlp(\/|$)/);
    expect(toJaeger[0]!.config!.endpoint).toBe('jaeger:4317');
    expect(service('jaeger').image).toMatch(/^jaegertracing\/(jaeger|all-in-one):/);
    expect(service('jaeger').command).toContain('--set=receivers.otlp.protocols.grpc.endpoint=0.0.0.0:4317');
    expect(mountTarget('otel-collector', '../otel-collector/config.yaml')).toBe(
      /--config=(\S+)/.exec(service('otel-collector').command.join(' '))?.[1],
    );
  });
});
