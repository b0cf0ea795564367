import { ENV_VARIABLE_NAMES, type AppConfig } from '@quarry/config';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

/**
 * Reading deploy/ the way Docker Compose, Kubernetes, Prometheus and Grafana would, far enough for the
 * checks in this folder: YAML with anchors and merge keys, compose variable defaults, override files.
 * Docker has no engine on these machines, so these files are validated by reading them, not running them.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEPLOY_DIR = path.join(REPO_ROOT, 'deploy');
export const deployPath = (...parts: string[]): string => path.join(DEPLOY_DIR, ...parts);
export const readText = (file: string): string => readFileSync(file, 'utf8');

/** The Quarry apps that run as long-lived services, and the ops jobs. */
export const APPS = ['gateway', 'ingest-worker', 'analysis-worker'] as const;
export type App = (typeof APPS)[number];
export const WORKERS = ['ingest-worker', 'analysis-worker'] as const;

/**
 * The standard OpenTelemetry SDK variables a deployment may set besides the ones Quarry's own config
 * validates (those are in ENV_VARIABLE_NAMES). Listed, not matched by prefix, so a misspelt
 * `OTEL_RESOURCE_ATRIBUTES` fails a test instead of being silently ignored by the SDK.
 */
export const STANDARD_OTEL_VARIABLES: ReadonlySet<string> = new Set([
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_PROPAGATORS',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_LOG_LEVEL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_EXPORTER_OTLP_CERTIFICATE',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_EVENT_COUNT_LIMIT',
  'OTEL_SPAN_LINK_COUNT_LIMIT',
]);

/** Variables an environment sets that neither Quarry's config nor the OpenTelemetry SDK reads. */
export function unknownVariables(env: Record<string, string>): string[] {
  const known = new Set<string>(ENV_VARIABLE_NAMES);
  return Object.keys(env).filter((k) => !known.has(k) && !STANDARD_OTEL_VARIABLES.has(k));
}

/** The port an app serves /healthz, /readyz and /metrics on: the gateway's HTTP port, else METRICS_PORT. */
export const probePort = (app: App, config: AppConfig): number =>
  app === 'gateway' ? config.http.port : config.metrics.port;

/** Every document of a YAML file, anchors and `<<` merge keys resolved; throws on any YAML error. */
export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readText(file), { merge: true, prettyErrors: true });
  const errors = docs.flatMap((d) => d.errors);
  if (errors.length > 0) throw new Error(`${file}: ${errors.map((e) => e.message).join('\n')}`);
  return docs.map((d) => d.toJS({ maxAliasCount: 1000 }) as unknown).filter((d) => d != null);
}

export function readYaml(file: string): unknown {
  const docs = readYamlDocuments(file);
  if (docs.length !== 1) throw new Error(`${file}: expected one YAML document, found ${docs.length}`);
  return docs[0];
}

export function readJson(file: string): unknown {
  return JSON.parse(readText(file)) as unknown;
}

/** Files below `dir` (recursively) whose names end with one of `extensions`. */
export function filesUnder(dir: string, extensions: readonly string[]): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(full, extensions));
    else if (extensions.some((e) => entry.name.endsWith(e))) found.push(full);
  }
  return found.sort();
}

// ---------------------------------------------------------------------------------------------------
// Docker Compose

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const EnvironmentSchema = z.union([z.record(z.string(), scalar), z.array(z.string())]);
const DependsOnSchema = z.union([
  z.array(z.string()),
  z.record(z.string(), z.object({ condition: z.string().default('service_started') })),
]);
const HealthcheckSchema = z.object({ test: z.union([z.string(), z.array(z.string())]) });

const ComposeServiceSchema = z.object({
  image: z.string().optional(),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  environment: EnvironmentSchema.optional(),
  depends_on: DependsOnSchema.optional(),
  healthcheck: HealthcheckSchema.optional(),
  volumes: z.array(z.string()).optional(),
  ports: z.array(z.string()).optional(),
  stop_grace_period: z.string().optional(),
  networks: z.record(z.string(), z.object({ aliases: z.array(z.string()).optional() }).nullable()).optional(),
});
const ComposeFileSchema = z.object({ services: z.record(z.string(), ComposeServiceSchema) });

type RawService = z.infer<typeof ComposeServiceSchema>;

/** A compose service after merging override files and resolving `${VAR:-default}`. */
export interface ComposeService {
  name: string;
  image: string | undefined;
  build: { context: string; dockerfile: string } | undefined;
  command: string[];
  environment: Record<string, string>;
  dependsOn: Record<string, string>;
  healthcheck: string[] | undefined;
  /** host (relative to the compose file's folder, or a named volume) → target in the container. */
  volumes: { source: string; target: string }[];
  stopGracePeriodSeconds: number | undefined;
  aliases: string[];
}

/**
 * Compose's variable syntax with an empty shell environment, which is how a fresh checkout runs:
 * `${VAR:-default}` and `${VAR-default}` give the default, `${VAR}` and `$VAR` give '', `$$` is `$`.
 */
export function interpolate(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _braced: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      return fallback ?? '';
    },
  );
}

/** Variables written as `${VAR}` or `$VAR` with no default: empty unless the operator sets them. */
export function variablesWithoutDefault(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
  )) {
    if (m[0] === '$$') continue;
    if (m[1] !== undefined && m[2] === undefined) names.push(m[1]);
    if (m[3] !== undefined) names.push(m[3]);
  }
  return names;
}

function toEnvironment(env: z.infer<typeof EnvironmentSchema> | undefined): Record<string, string> {
  if (env === undefined) return {};
  const entries = Array.isArray(env)
    ? env.map((line): [string, string] => {
        const at = line.indexOf('=');
        return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(env).map(([k, v]): [string, string] => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v)]));
}

function toDependsOn(dependsOn: z.infer<typeof DependsOnSchema> | undefined): Record<string, string> {
  if (dependsOn === undefined) return {};
  if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((s) => [s, 'service_started']));
  return Object.fromEntries(Object.entries(dependsOn).map(([s, d]) => [s, d.condition]));
}

function toVolumes(volumes: string[] | undefined): { source: string; target: string }[] {
  return (volumes ?? []).map((v) => {
    const [source = '', target = ''] = interpolate(v).split(':');
    return { source, target };
  });
}

function toSeconds(duration: string | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(duration);
  if (!m) throw new Error(`cannot read the duration "${duration}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function toCommand(command: string | string[] | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command.map(interpolate) : interpolate(command).split(/\s+/);
}

function normalise(name: string, s: RawService): ComposeService {
  return {
    name,
    image: s.image,
    build: s.build,
    command: toCommand(s.command),
    environment: toEnvironment(s.environment),
    dependsOn: toDependsOn(s.depends_on),
    healthcheck:
      s.healthcheck === undefined
        ? undefined
        : Array.isArray(s.healthcheck.test)
          ? s.healthcheck.test
          : ['CMD-SHELL', s.healthcheck.test],
    volumes: toVolumes(s.volumes),
    stopGracePeriodSeconds: toSeconds(s.stop_grace_period),
    aliases: Object.values(s.networks ?? {}).flatMap((n) => n?.aliases ?? []),
  };
}

/**
 * The services of one or more compose files, merged the way `docker compose -f a -f b` merges them:
 * environment and depends_on entries are merged key by key, volumes by their target, and any other
 * key set by a later file replaces the earlier value.
 */
export function composeServices(...files: string[]): Map<string, ComposeService> {
  const services = new Map<string, ComposeService>();
  for (const file of files) {
    const raw = ComposeFileSchema.parse(readYaml(deployPath('compose', file)));
    for (const [name, override] of Object.entries(raw.services)) {
      const next = normalise(name, override);
      const base = services.get(name);
      if (!base) {
        services.set(name, next);
        continue;
      }
      const volumes = new Map(base.volumes.map((v) => [v.target, v]));
      for (const v of next.volumes) volumes.set(v.target, v);
      services.set(name, {
        name,
        image: override.image ?? base.image,
        build: override.build ?? base.build,
        command: override.command === undefined ? base.command : next.command,
        environment: { ...base.environment, ...next.environment },
        dependsOn: { ...base.dependsOn, ...next.dependsOn },
        healthcheck: override.healthcheck === undefined ? base.healthcheck : next.healthcheck,
        volumes: [...volumes.values()],
        stopGracePeriodSeconds: next.stopGracePeriodSeconds ?? base.stopGracePeriodSeconds,
        aliases: [...new Set([...base.aliases, ...next.aliases])],
      });
    }
  }
  return services;
}

/** A bind mount's source resolved against deploy/compose/, or undefined for a named volume. */
export function bindMountPath(source: string): string | undefined {
  return source.startsWith('.') || source.startsWith('/')
    ? path.resolve(DEPLOY_DIR, 'compose', source)
    : undefined;
}

/** host and port of each server in a URL list (`nats://a:4222,nats://b:4222`). */
export function endpoints(urls: string): { host: string; port: number }[] {
  return urls.split(',').map((u) => {
    const url = new URL(u.trim());
    const defaults: Record<string, number> = {
      'nats:': 4222,
      'http:': 80,
      'https:': 443,
      'postgresql:': 5432,
    };
    return { host: url.hostname, port: url.port ? Number(url.port) : (defaults[url.protocol] ?? 0) };
  });
}

// ---------------------------------------------------------------------------------------------------
// Prometheus alert rules

const AlertRulesSchema = z.object({
  groups: z.array(
    z.object({
      name: z.string(),
      rules: z.array(
        z.object({
          alert: z.string(),
          expr: z.string(),
          for: z.string().optional(),
          labels: z.object({ severity: z.enum(['critical', 'warning', 'info']) }),
          annotations: z.object({ summary: z.string(), description: z.string(), runbook: z.string() }),
        }),
      ),
    }),
  ),
});
export type AlertRule = z.infer<typeof AlertRulesSchema>['groups'][number]['rules'][number];

/** Every rule of deploy/prometheus/alerts.yml; each must say what it means and where its runbook is. */
export function readAlertRules(): AlertRule[] {
  return AlertRulesSchema.parse(readYaml(deployPath('prometheus', 'alerts.yml'))).groups.flatMap(
    (g) => g.rules,
  );
}
