import { loadConfig } from '@quarry/config';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  APPS,
  composeServices,
  deployPath,
  endpoints,
  probePort,
  readText,
  readYaml,
  unknownVariables,
  type ComposeService,
} from './deploy-files';

const BASE = ['compose.yaml'];
const CLUSTER = ['compose.yaml', 'compose.nats-cluster.yaml'];
const QUARRY_SERVICES = [...APPS, 'migrate', 'provision'] as const;
const ONE_SHOT_COMMANDS = ['migrate', 'provision', 'setup'];

function service(services: Map<string, ComposeService>, name: string): ComposeService {
  const s = services.get(name);
  if (!s) throw new Error(`compose has no service "${name}"`);
  return s;
}

/** The URL a compose healthcheck fetches (`node -e "fetch('http://…')…"`). */
function healthcheckUrl(s: ComposeService): URL {
  const script = s.healthcheck?.join(' ') ?? '';
  const m = /https?:\/\/[^'"\s)]+/.exec(script);
  if (!m) throw new Error(`${s.name} has no HTTP healthcheck`);
  return new URL(m[0]);
}

const CollectorSchema = z.object({
  receivers: z.object({
    otlp: z.object({
      protocols: z.object({
        http: z.object({ endpoint: z.string() }),
        grpc: z.object({ endpoint: z.string() }),
      }),
    }),
  }),
});

describe.each([
  ['single NATS server', BASE],
  ['three-node NATS cluster', CLUSTER],
])('compose (%s)', (_variant, files) => {
  const services = composeServices(...files);

  describe.each(QUARRY_SERVICES.map((name) => [name]))('%s', (name) => {
    const env = service(services, name).environment;

    it('sets only variables Quarry or the OpenTelemetry SDK reads', () => {
      expect(Object.keys(env).length).toBeGreaterThan(5);
      expect(unknownVariables(env)).toEqual([]);
    });

    it("passes Quarry's config validation", () => {
      expect(() => loadConfig(env)).not.toThrow();
    });

    it('sets the database, NATS and OTLP export explicitly, with its own service name', () => {
      const required = ['DATABASE_URL', 'NATS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'];
      expect(required.filter((v) => !env[v])).toEqual([]);
      const config = loadConfig(env);
      expect(config.telemetry.exporter).toBe('otlp');
      expect(config.env).toBe('production');
      // Jaeger's service list and the metrics' app label then say the same thing.
      expect(config.telemetry.serviceName).toBe((APPS as readonly string[]).includes(name) ? name : 'ops');
    });

    it('points at services compose runs: postgres, NATS, the collector on its OTLP/HTTP port', () => {
      const config = loadConfig(env);
      const names = new Set([...services.values()].flatMap((s) => [s.name, ...s.aliases]));
      const db = endpoints(config.database.url)[0]!;
      expect(db.host).toBe('postgres');
      for (const nats of endpoints(config.nats.url)) {
        expect(names).toContain(nats.host);
        expect(nats.port).toBe(4222);
      }
      const otlp = new URL(config.telemetry.otlp.tracesUrl);
      expect(otlp.hostname).toBe('otel-collector');
      expect(names).toContain(otlp.hostname);
      const collector = CollectorSchema.parse(readYaml(deployPath('otel-collector', 'config.yaml')));
      expect(collector.receivers.otlp.protocols.http.endpoint).toMatch(new RegExp(`:${otlp.port}$`));
    });
  });

  describe.each(APPS.map((app) => [app]))('app %s', (app) => {
    const s = service(services, app);

    it('runs only itself: never migrates or provisions at start', () => {
      expect(s.command).toEqual([app]);
      expect(s.command.filter((c) => ONE_SHOT_COMMANDS.includes(c))).toEqual([]);
    });

    it('starts after migrate and provision completed successfully', () => {
      expect(s.dependsOn).toMatchObject({
        migrate: 'service_completed_successfully',
        provision: 'service_completed_successfully',
      });
    });

    it('is health-checked on the port and path it serves', () => {
      const url = healthcheckUrl(s);
      expect(['/readyz', '/healthz']).toContain(url.pathname);
      expect(Number(url.port)).toBe(probePort(app, loadConfig(s.environment)));
    });

    it('gets longer to stop than its own shutdown timeout', () => {
      const config = loadConfig(s.environment);
      expect((s.stopGracePeriodSeconds ?? 10) * 1000).toBeGreaterThan(config.shutdownTimeoutMs);
    });

    it('runs the image built from deploy/docker/Dockerfile', () => {
      expect(s.build).toBeDefined();
      expect(existsSync(path.resolve(deployPath('compose'), s.build!.context, s.build!.dockerfile))).toBe(
        true,
      );
      expect(s.image).toBe(service(services, 'migrate').image);
    });
  });

  it('migrate and provision are one-shot ops commands, with what each needs healthy first', () => {
    expect(service(services, 'migrate').command).toEqual(['ops', 'migrate']);
    expect(service(services, 'provision').command).toEqual(['ops', 'provision']);
    expect(service(services, 'migrate').dependsOn).toMatchObject({ postgres: 'service_healthy' });
    expect(service(services, 'provision').dependsOn).toMatchObject({ nats: 'service_healthy' });
  });

  it('no service other than the migrate job runs `ops migrate`', () => {
    const migrating = [...services.values()].filter((s) => s.command.join(' ').includes('migrate'));
    expect(migrating.map((s) => s.name)).toEqual(['migrate']);
  });

  it('PostgreSQL is the pgvector image, NATS is 2.10 or later', () => {
    expect(service(services, 'postgres').image).toMatch(/^pgvector\/pgvector:/);
    const nats = service(services, 'nats').image ?? '';
    const [major = 0, minor = 0] = (/^nats:(\d+)\.(\d+)/.exec(nats) ?? []).slice(1).map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(210);
  });
});

describe('compose: single NATS server', () => {
  const services = composeServices(...BASE);

  it('runs JetStream with monitoring on 8222', () => {
    const nats = service(services, 'nats');
    const conf = nats.volumes.find((v) => v.target === nats.command[1]);
    expect(conf).toBeDefined();
    const text = readText(path.resolve(deployPath('compose'), conf!.source));
    expect(text).toMatch(/^jetstream\s*\{/m);
    expect(text).toMatch(/^http:\s*\S*:8222$/m);
  });

  it('provisions single-replica streams', () => {
    expect(loadConfig(service(services, 'provision').environment).streams.replicas).toBe(1);
  });
});

describe('compose: three-node NATS cluster override', () => {
  const services = composeServices(...CLUSTER);
  const nodes = ['nats', 'nats-2', 'nats-3'];

  it('every Quarry service lists all three servers', () => {
    for (const name of QUARRY_SERVICES) {
      const hosts = endpoints(loadConfig(service(services, name).environment).nats.url).map((e) => e.host);
      expect(hosts.sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
    }
  });

  it('provisions streams, consumers and the bucket with three replicas, after all nodes are healthy', () => {
    const provision = service(services, 'provision');
    expect(loadConfig(provision.environment).streams.replicas).toBe(3);
    expect(provision.dependsOn).toMatchObject({
      nats: 'service_healthy',
      'nats-2': 'service_healthy',
      'nats-3': 'service_healthy',
    });
  });

  it.each([1, 2, 3])('node nats-%i has its own name, store and routes to all three', (n) => {
    const node = service(services, nodes[n - 1]!);
    expect([node.name, ...node.aliases]).toContain(`nats-${n}`);
    expect(node.volumes.find((v) => v.target === '/data')?.source).toBe(`nats-${n}-data`);
    const confPath = node.command[1]!;
    const mount = node.volumes.find((v) => confPath.startsWith(`${v.target}/`));
    expect(mount).toBeDefined();
    const text = readText(path.resolve(deployPath('compose'), mount!.source, path.basename(confPath)));
    expect(text).toMatch(new RegExp(`^server_name:\\s*nats-${n}$`, 'm'));
    expect(text).toMatch(/^jetstream\s*\{/m);
    expect(text).toMatch(/^http:\s*\S*:8222$/m);
    const routes = [...text.matchAll(/nats-route:\/\/(nats-\d):6222/g)].map((m) => m[1]);
    expect(routes.sort()).toEqual(['nats-1', 'nats-2', 'nats-3']);
  });

  it('the apps are unchanged apart from their NATS servers', () => {
    const base = composeServices(...BASE);
    for (const app of APPS) {
      const { NATS_URL: _a, NATS_STREAM_REPLICAS: _b, ...clustered } = service(services, app).environment;
      const { NATS_URL: _c, ...single } = service(base, app).environment;
      expect(clustered).toEqual(single);
    }
  });
});

describe('the compose checks can fail', () => {
  it('an unknown or misspelt variable is reported', () => {
    expect(
      unknownVariables({ NATS_URL: 'x', OTEL_RESOURCE_ATRIBUTES: 'a=b', INGEST_CONCURENCY: '2' }),
    ).toEqual(['OTEL_RESOURCE_ATRIBUTES', 'INGEST_CONCURENCY']);
  });

  it('an invalid value fails config validation', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://db/quarry' })).toThrow(/DATABASE_URL/);
  });
});
