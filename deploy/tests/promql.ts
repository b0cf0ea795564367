import {
  exportedSeriesNames,
  METRICS,
  PROCESS_METRICS_PREFIX,
  type MetricDefinition,
} from '@quarry/telemetry';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Checks of the PromQL written in the Grafana dashboard and the alert rules against what the apps
 * really export. Deliberately simple: string literals are removed first (so a label value such as
 * consumer="quarry_ingest" is never mistaken for a metric), then every `quarry_…` token is a metric.
 */

/** Labels every series carries besides its own: the app's default label and Prometheus's target labels. */
const TARGET_LABELS = ['app', 'job', 'instance'];

/**
 * The process metrics prom-client's collectDefaultMetrics exports with Quarry's prefix, computed from
 * prom-client itself so a name it does not have (or stops having) fails the check.
 */
export async function processSeriesNames(): Promise<Set<string>> {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: PROCESS_METRICS_PREFIX });
  const metrics = await register.getMetricsAsJSON();
  register.clear();
  const names = new Set<string>();
  for (const m of metrics) {
    const type = String(m.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(`${m.name}${s}`);
    else names.add(m.name);
  }
  return names;
}

export async function knownSeriesNames(): Promise<Set<string>> {
  return new Set([...exportedSeriesNames(), ...(await processSeriesNames())]);
}

function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
}

/** Every `quarry_…` metric name an expression uses. */
export function metricsIn(expr: string): string[] {
  return [...new Set(withoutStrings(expr).match(/\bquarry_[a-z0-9_]+/g) ?? [])];
}

export function unknownMetrics(expr: string, known: ReadonlySet<string>): string[] {
  return metricsIn(expr).filter((m) => !known.has(m));
}

/** The catalogue entry behind a series name (`quarry_x_bucket` → quarry_x), if it is one. */
function catalogueEntry(series: string): MetricDefinition | undefined {
  const catalogue = METRICS as Record<string, MetricDefinition>;
  const direct = catalogue[series];
  if (direct) return direct;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  const def = catalogue[base];
  return def?.kind === 'histogram' ? def : undefined;
}

/**
 * Label names that no metric of the expression has: in a selector (`quarry_x{step="…"}`, checked
 * against that metric) and in `by (…)`, `without (…)`, `on (…)`, `ignoring (…)` (checked against all
 * metrics of the expression). Only catalogue metrics are checked; process metrics have just the
 * default labels as far as Quarry's queries are concerned.
 */
export function labelProblems(expr: string): string[] {
  const text = withoutStrings(expr);
  const problems: string[] = [];
  const labelsOf = (series: string): Set<string> | undefined => {
    const def = catalogueEntry(series);
    if (!def) return undefined;
    return new Set([...def.labels, ...TARGET_LABELS, ...(series.endsWith('_bucket') ? ['le'] : [])]);
  };
  for (const m of text.matchAll(/\b(quarry_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
    const allowed = labelsOf(m[1]!);
    if (!allowed) continue;
    for (const matcher of m[2]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
      if (!allowed.has(matcher[1]!)) problems.push(`${m[1]} has no label "${matcher[1]}"`);
    }
  }
  const metrics = metricsIn(expr);
  const allowed = new Set([...TARGET_LABELS, 'le']);
  let checkable = true;
  for (const series of metrics) {
    const labels = labelsOf(series);
    if (labels) for (const l of labels) allowed.add(l);
    else checkable = false;
  }
  if (checkable) {
    for (const m of text.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
      for (const label of m[1]!
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean)) {
        if (!allowed.has(label)) problems.push(`no metric in "${expr}" has the label "${label}"`);
      }
    }
  }
  return problems;
}
