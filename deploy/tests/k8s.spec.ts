import { loadConfig } from '@quarry/config';
import { LANES, topology, type CommandName } from '@quarry/contracts';
import { z } from 'zod';
import {
  APPS,
  deployPath,
  probePort,
  readYaml,
  readYamlDocuments,
  unknownVariables,
  WORKERS,
  type App,
} from './deploy-files';

const Metadata = z.object({
  name: z.string(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const Resource = z.object({ apiVersion: z.string(), kind: z.string(), metadata: Metadata });
type Resource = z.infer<typeof Resource>;

const EnvVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .object({
      secretKeyRef: z
        .object({ name: z.string(), key: z.string(), optional: z.boolean().optional() })
        .optional(),
      configMapKeyRef: z.object({ name: z.string(), key: z.string() }).optional(),
    })
    .optional(),
});
const Probe = z.object({
  httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }),
});
const Quantities = z.object({ cpu: z.string(), memory: z.string() });
const Container = z.object({
  name: z.string(),
  image: z.string(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).default([]),
  ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number() })).default([]),
  envFrom: z
    .array(
      z.object({
        configMapRef: z.object({ name: z.string() }).optional(),
        secretRef: z.object({ name: z.string() }).optional(),
      }),
    )
    .default([]),
  env: z.array(EnvVar).default([]),
  readinessProbe: Probe.optional(),
  livenessProbe: Probe.optional(),
  startupProbe: Probe.optional(),
  resources: z.object({ requests: Quantities, limits: Quantities }).optional(),
  securityContext: z
    .object({
      allowPrivilegeEscalation: z.boolean().optional(),
      readOnlyRootFilesystem: z.boolean().optional(),
    })
    .optional(),
});
type Container = z.infer<typeof Container>;
const PodSpec = z.object({
  terminationGracePeriodSeconds: z.number().optional(),
  restartPolicy: z.string().optional(),
  securityContext: z
    .object({ runAsNonRoot: z.boolean().optional(), runAsUser: z.number().optional() })
    .optional(),
  containers: z.array(Container).min(1),
});
const PodTemplate = z.object({
  metadata: z.object({
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: PodSpec,
});
const Deployment = Resource.extend({
  kind: z.literal('Deployment'),
  spec: z.object({
    replicas: z.number().optional(),
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: PodTemplate,
  }),
});
type Deployment = z.infer<typeof Deployment>;
const Job = Resource.extend({ kind: z.literal('Job'), spec: z.object({ template: PodTemplate }) });
type Job = z.infer<typeof Job>;
const ConfigMap = Resource.extend({ kind: z.literal('ConfigMap'), data: z.record(z.string(), z.string()) });
const Secret = Resource.extend({ kind: z.literal('Secret'), stringData: z.record(z.string(), z.string()) });
const Service = Resource.extend({
  kind: z.literal('Service'),
  spec: z.object({
    selector: z.record(z.string(), z.string()),
    ports: z.array(z.object({ port: z.number(), targetPort: z.union([z.string(), z.number()]) })),
  }),
});
const ScaledObject = Resource.extend({
  kind: z.literal('ScaledObject'),
  spec: z.object({
    scaleTargetRef: z.object({ name: z.string() }),
    minReplicaCount: z.number(),
    maxReplicaCount: z.number(),
    triggers: z.array(z.object({ type: z.string(), metadata: z.record(z.string(), z.string()) })),
  }),
});
type ScaledObject = z.infer<typeof ScaledObject>;
const Kustomization = z.object({
  namespace: z.string(),
  resources: z.array(z.string()),
  images: z.array(z.object({ name: z.string() })).default([]),
});

const kustomization = Kustomization.parse(readYaml(deployPath('k8s', 'kustomization.yaml')));
const resources: Resource[] = kustomization.resources.flatMap((file) =>
  readYamlDocuments(deployPath('k8s', file)).map((doc) => Resource.passthrough().parse(doc)),
);
const ofKind = <T extends z.ZodType>(kind: string, schema: T): z.infer<T>[] =>
  resources.filter((r) => r.kind === kind).map((r) => schema.parse(r));

const deployments = ofKind('Deployment', Deployment);
const jobs = ofKind('Job', Job);
const services = ofKind('Service', Service);
const scaledObjects = ofKind('ScaledObject', ScaledObject);
const configMaps = ofKind('ConfigMap', ConfigMap);
/** The example Secret stands in for the real one, which is created out of band. */
const secretExample = Secret.parse(readYaml(deployPath('k8s', 'secret.example.yaml')));

/** What a container's process sees: envFrom sources in order, then env (which wins), as the kubelet does. */
function containerEnvironment(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  const configMap = (name: string) => {
    const found = configMaps.find((m) => m.metadata.name === name);
    if (!found) throw new Error(`${c.name}: ConfigMap ${name} is not in the kustomization`);
    return found.data;
  };
  const secret = (name: string) => {
    if (secretExample.metadata.name !== name) throw new Error(`${c.name}: no Secret ${name}`);
    return secretExample.stringData;
  };
  for (const from of c.envFrom) {
    if (from.configMapRef) Object.assign(env, configMap(from.configMapRef.name));
    if (from.secretRef) Object.assign(env, secret(from.secretRef.name));
  }
  for (const v of c.env) {
    const ref = v.valueFrom?.secretKeyRef;
    const cmRef = v.valueFrom?.configMapKeyRef;
    if (v.value !== undefined) env[v.name] = v.value;
    else if (ref) {
      const value = secret(ref.name)[ref.key];
      if (value === undefined) throw new Error(`${c.name}: Secret ${ref.name} has no key ${ref.key}`);
      env[v.name] = value;
    } else if (cmRef) {
      const value = configMap(cmRef.name)[cmRef.key];
      if (value === undefined) throw new Error(`${c.name}: ConfigMap ${cmRef.name} has no key ${cmRef.key}`);
      env[v.name] = value;
    }
  }
  return env;
}

function deployment(app: App): Deployment {
  const found = deployments.filter((d) => d.metadata.name === app);
  expect(found).toHaveLength(1);
  return found[0]!;
}
const container = (d: Deployment | Job): Container => d.spec.template.spec.containers[0]!;

/** A probe's port (a number or a container port's name) as a number. */
function portNumber(c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports.find((p) => p.name === port)?.containerPort;
}

/** Which command each worker consumes, both lanes. */
const WORKER_COMMANDS: Record<(typeof WORKERS)[number], CommandName[]> = {
  'ingest-worker': ['ingestDocument'],
  'analysis-worker': ['indexDocument', 'analyzeJob'],
};

describe('Kubernetes manifests (kustomize base)', () => {
  it('every file in the kustomization exists and holds Kubernetes resources', () => {
    expect(resources.length).toBeGreaterThanOrEqual(10);
    expect(kustomization.namespace).toBe('quarry');
    expect(resources.filter((r) => r.kind === 'Namespace').map((r) => r.metadata.name)).toEqual(['quarry']);
  });

  it('the Secret is an example only: not deployed, every credential clearly a placeholder', () => {
    expect(kustomization.resources).not.toContain('secret.example.yaml');
    expect(resources.filter((r) => r.kind === 'Secret')).toEqual([]);
    expect(Object.keys(secretExample.stringData).sort()).toEqual([
      'DATABASE_URL',
      'LLM_API_KEY',
      'OPENAI_API_KEY',
      'QUARRY_BOOTSTRAP_API_KEY',
    ]);
    expect(secretExample.stringData.DATABASE_URL).toContain('CHANGE-ME');
    expect(secretExample.stringData.QUARRY_BOOTSTRAP_API_KEY).toContain('CHANGE-ME');
  });

  it('every container runs the image the kustomization rewrites', () => {
    const images = new Set(kustomization.images.map((i) => i.name));
    for (const w of [...deployments, ...jobs]) expect(images).toContain(container(w).image);
  });

  describe.each(APPS.map((app) => [app]))('Deployment %s', (app) => {
    const d = deployment(app);
    const c = container(d);
    const env = containerEnvironment(c);
    const config = loadConfig(env);

    it('runs only itself: never migrates or provisions at start', () => {
      expect(c.command).toBeUndefined();
      expect(c.args).toEqual([app]);
    });

    it("gets an environment that passes Quarry's config validation, with no unknown variable", () => {
      expect(unknownVariables(env)).toEqual([]);
      expect(config.env).toBe('production');
    });

    it('sets the database, NATS and OTLP export explicitly, with its own service name', () => {
      const required = ['DATABASE_URL', 'NATS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'];
      expect(required.filter((v) => !env[v])).toEqual([]);
      expect(config.telemetry.serviceName).toBe(app);
      expect(config.telemetry.exporter).toBe('otlp');
    });

    it('probes /readyz (readiness) and /healthz (liveness) on the port the app serves them', () => {
      expect(c.readinessProbe?.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet.path).toBe('/healthz');
      const port = probePort(app, config);
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        if (probe) expect(portNumber(c, probe.httpGet.port)).toBe(port);
      }
    });

    it('is scraped by Prometheus on the same port at /metrics', () => {
      const annotations = d.spec.template.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(annotations['prometheus.io/path']).toBe('/metrics');
      expect(Number(annotations['prometheus.io/port'])).toBe(probePort(app, config));
    });

    it('has CPU and memory requests and limits', () => {
      expect(c.resources).toBeDefined();
      for (const q of [c.resources!.requests, c.resources!.limits]) {
        expect(q.cpu).toMatch(/^\d+(\.\d+)?m?$/);
        expect(q.memory).toMatch(/^\d+(Mi|Gi)$/);
      }
    });

    it('runs as a non-root user without privilege escalation', () => {
      const pod = d.spec.template.spec.securityContext;
      expect(pod?.runAsNonRoot).toBe(true);
      expect(pod?.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    });

    it('is given longer to stop than SHUTDOWN_TIMEOUT_MS before it is killed', () => {
      const grace = d.spec.template.spec.terminationGracePeriodSeconds ?? 30;
      expect(grace * 1000).toBeGreaterThan(config.shutdownTimeoutMs);
    });

    it('selects its own pods', () => {
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    });
  });

  it('the gateway Service reaches the gateway pods on their HTTP port', () => {
    const gateway = deployment('gateway');
    const svc = services.find((s) => s.metadata.name === 'gateway');
    expect(svc).toBeDefined();
    expect(gateway.spec.template.metadata.labels).toMatchObject(svc!.spec.selector);
    for (const p of svc!.spec.ports) {
      expect(portNumber(container(gateway), p.targetPort)).toBe(
        loadConfig(containerEnvironment(container(gateway))).http.port,
      );
    }
  });

  describe('Jobs', () => {
    const args = (j: Job) => container(j).args;

    it('exactly one Job runs `ops migrate`, exactly one `ops provision`', () => {
      expect(jobs.filter((j) => args(j).includes('migrate')).map(args)).toEqual([['ops', 'migrate']]);
      expect(jobs.filter((j) => args(j).includes('provision')).map(args)).toEqual([['ops', 'provision']]);
    });

    it('no Deployment migrates, provisions or runs setup', () => {
      for (const d of deployments) {
        expect(container(d).args.filter((a) => ['migrate', 'provision', 'setup'].includes(a))).toEqual([]);
      }
    });

    it.each(['migrate', 'provision'])('the %s Job has a valid environment and resources', (command) => {
      const job = jobs.find((j) => args(j).includes(command))!;
      const env = containerEnvironment(container(job));
      expect(unknownVariables(env)).toEqual([]);
      expect(() => loadConfig(env)).not.toThrow();
      expect(['Never', 'OnFailure']).toContain(job.spec.template.spec.restartPolicy);
      expect(container(job).resources).toBeDefined();
      expect(job.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
      if (command === 'migrate') expect(env.DATABASE_URL).toBeDefined();
      if (command === 'provision') expect(loadConfig(env).nats.url).toMatch(/^nats:\/\//);
    });
  });

  describe.each(WORKERS.map((w) => [w]))('KEDA ScaledObject for %s', (worker) => {
    const scaled = scaledObjects.filter((s: ScaledObject) => s.spec.scaleTargetRef.name === worker);
    const config = loadConfig(containerEnvironment(container(deployment(worker))));
    const t = topology(config.namespace);

    it('exists once and scales the Deployment within sensible bounds', () => {
      expect(scaled).toHaveLength(1);
      const { minReplicaCount, maxReplicaCount } = scaled[0]!.spec;
      expect(minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(maxReplicaCount).toBeGreaterThan(minReplicaCount);
      // `ops provision` lets 8 x the interactive concurrency be unacknowledged per consumer; replicas
      // beyond 8 would sit idle.
      expect(maxReplicaCount).toBeLessThanOrEqual(8);
      expect(deployment(worker).spec.replicas).toBeUndefined();
    });

    it('has a nats-jetstream trigger on the jobs stream for each lane of each of its consumers', () => {
      const triggers = scaled[0]!.spec.triggers;
      expect(triggers.every((tr) => tr.type === 'nats-jetstream')).toBe(true);
      const expected = WORKER_COMMANDS[worker].flatMap((c) => LANES.map((lane) => t.consumerName(c, lane)));
      expect(triggers.map((tr) => tr.metadata.consumer).sort()).toEqual([...expected].sort());
      for (const tr of triggers) {
        expect(tr.metadata.stream).toBe(t.jobsStream);
        expect(tr.metadata.account).toBe('$G');
        expect(tr.metadata.natsServerMonitoringEndpoint).toMatch(/^[a-z0-9.-]+:8222$/);
        expect(Number(tr.metadata.lagThreshold)).toBeGreaterThan(0);
      }
    });
  });

  it("at full scale the apps' connection pools fit PostgreSQL's default max_connections (100)", () => {
    const gateway = deployment('gateway');
    let connections =
      (gateway.spec.replicas ?? 1) * loadConfig(containerEnvironment(container(gateway))).database.poolMax;
    for (const worker of WORKERS) {
      const max = scaledObjects.find((s) => s.spec.scaleTargetRef.name === worker)!.spec.maxReplicaCount;
      const { database } = loadConfig(containerEnvironment(container(deployment(worker))));
      // The analysis worker answers searches, on a pool of their own (ADR 27 §12); the others never open one.
      connections += max * (database.poolMax + (worker === 'analysis-worker' ? database.searchPoolMax : 0));
    }
    // Three are reserved for superusers, and the ops Jobs need one each.
    expect(connections).toBeLessThanOrEqual(100 - 3 - 2);
  });
});
