import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { APP_CONFIG, loadConfig, type AppConfig } from '@quarry/config';
import { createPrismaClient, TenantsRepository, type PrismaClient } from '@quarry/persistence';
import { createLogger, QUARRY_VERSION } from '@quarry/telemetry';
import {
  createTestDatabase,
  createTestNamespace,
  OpenApiConformance,
  type TestDatabase,
  type TestNamespace,
} from '@quarry/testing';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { InjectOptions, LightMyRequestResponse as InjectResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import vm from 'node:vm';
import { Pool } from 'pg';
import { createGatewayApp } from '../bootstrap';
import { createOpenApiDocument } from '../http/openapi';

/** A parsed reply of the gateway: status, headers and the JSON body (or the raw text). */
export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: InjectResponse['headers'];
  body: T;
  text: string;
}

export interface RequestOptions {
  /** API key to send as `Authorization: Bearer <key>`; the harness's own by default, `null` for none. */
  apiKey?: string | null;
  headers?: Record<string, string>;
  payload?: InjectOptions['payload'];
  query?: Record<string, string>;
}

/**
 * The full gateway (exactly what `main.ts` builds, without listening) on a fresh migrated database and
 * a NATS namespace of its own, plus handles on both for assertions. One per test file.
 */
export class GatewayHarness {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly config: AppConfig,
    readonly db: TestDatabase,
    readonly ns: TestNamespace,
    /** Raw SQL access to the gateway's database, for checking what was (not) written. */
    readonly pg: Pool,
    readonly prisma: PrismaClient,
    readonly objects: ObjectStore,
    readonly smallBlobs: KV,
    readonly apiKey: string,
    readonly tenantId: string,
  ) {}

  static async start(label: string, env: Record<string, string> = {}): Promise<GatewayHarness> {
    // Under Jest, requiring ES modules (Prisma's query compiler, @fastify/static's dependencies) only
    // works with VM modules enabled; fail with the fix instead of an obscure `process.exit(1)`.
    if (!('SourceTextModule' in vm)) {
      throw new Error(
        'run Jest with NODE_OPTIONS=--experimental-vm-modules (Prisma and @fastify/static need it)',
      );
    }
    const db = await createTestDatabase(`gw_${label}`);
    let ns: TestNamespace | undefined;
    let app: NestFastifyApplication | undefined;
    try {
      ns = await createTestNamespace(`gw${label}`);
      const apiKey = `test-${randomBytes(16).toString('hex')}`;
      const config = loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        DATABASE_POOL_MAX: '4',
        NATS_URL: ns.natsUrl,
        QUARRY_NAMESPACE: ns.namespace,
        QUARRY_BOOTSTRAP_API_KEY: apiKey,
        LOG_LEVEL: 'silent',
        // Tests fire requests far faster than a client may; the limiter still runs its statement on every request.
        // Tests of the limit itself set their own.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BURST: '100000',
        ...env,
      });
      app = await createGatewayApp(config, createLogger({ level: 'silent', pretty: false, app: 'test' }));
      await app.init();
      const pg = new Pool({ connectionString: db.url, max: 2 });
      pg.on('error', () => undefined); // idle connections die when a test drops the database
      const prisma = createPrismaClient({ databaseUrl: db.url, poolMax: 2 });
      const { tenantId } = await new TenantsRepository(prisma).ensureTenantWithKey('default', apiKey);
      const objects = await new Objm(ns.nc).open(ns.topology.blobBucket);
      const smallBlobs = await new Kvm(ns.nc).open(ns.topology.smallBlobBucket);
      return new GatewayHarness(app, config, db, ns, pg, prisma, objects, smallBlobs, apiKey, tenantId);
    } catch (error) {
      await app?.close().catch(() => undefined);
      await ns?.cleanup().catch(() => undefined);
      await db.drop();
      throw error;
    }
  }

  /**
   * Another gateway on the same database and NATS namespace, as a second replica behind a load balancer would be.
   * Closed by `close()`.
   */
  async replica(): Promise<GatewayReplica> {
    const app = await createGatewayApp(
      this.config,
      createLogger({ level: 'silent', pretty: false, app: 'test-replica' }),
    );
    await app.init();
    const replica = new GatewayReplica(app, this.apiKey);
    this.replicas.push(replica);
    return replica;
  }

  private readonly replicas: GatewayReplica[] = [];

  /** A second tenant with a key of its own. */
  async createTenant(name: string): Promise<{ tenantId: string; apiKey: string }> {
    const apiKey = `test-${randomBytes(16).toString('hex')}`;
    const { tenantId } = await new TenantsRepository(this.prisma).ensureTenantWithKey(name, apiKey);
    return { tenantId, apiKey };
  }

  request<T = Record<string, unknown>>(
    method: InjectOptions['method'],
    url: string,
    options: RequestOptions = {},
  ): Promise<Reply<T>> {
    return injectRequest<T>(this.app, this.apiKey, method, url, options);
  }

  /** POST /v1/documents with a multipart body built from `parts`. */
  upload<T = UploadBody>(parts: Part[], options: Omit<RequestOptions, 'payload'> = {}): Promise<Reply<T>> {
    const form = multipartBody(parts);
    return this.request<T>('POST', '/v1/documents', {
      ...options,
      payload: form.payload,
      headers: { ...form.headers, ...options.headers },
    });
  }

  /** Starts listening on a free port of 127.0.0.1 (for tests that need a real socket); returns the port. */
  async listen(): Promise<number> {
    await this.app.listen({ port: 0, host: '127.0.0.1' });
    const address = this.app.getHttpServer().address();
    if (!address || typeof address === 'string') throw new Error('gateway is not listening on a TCP port');
    return address.port;
  }

  /** Messages in the object store's stream: chunks and metadata, including orphaned chunks. */
  async objectStoreMessages(): Promise<number> {
    const jsm = await jetstreamManager(this.ns.nc);
    return (await jsm.streams.info(`OBJ_${this.ns.topology.blobBucket}`)).state.messages;
  }

  /** A stored blob's bytes, from whichever tier holds it; null when neither does. */
  async blobBytes(key: string): Promise<Uint8Array | null> {
    const small = await this.smallBlobs.get(key);
    if (small?.operation === 'PUT') return small.value;
    return this.objects.getBlob(key);
  }

  /** Keys of the blobs currently stored, in either tier (deleted ones excluded). */
  async blobNames(): Promise<string[]> {
    const list = await this.objects.list();
    const small: string[] = [];
    for await (const key of await this.smallBlobs.keys()) small.push(key);
    return [...list.filter((o) => !o.deleted).map((o) => o.name), ...small];
  }

  /** Every message still stored in a stream on `subject` (the work queue keeps them: no worker runs). */
  async streamMessages(stream: string, subject: string): Promise<StoredMsg[]> {
    const jsm = await jetstreamManager(this.ns.nc);
    const { state } = await jsm.streams.info(stream);
    const out: StoredMsg[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m?.subject === subject) out.push(m);
    }
    return out;
  }

  /** Ingest commands on the namespace's `jobs.ingest` subject for one job. */
  async ingestCommands(jobId: string): Promise<StoredMsg[]> {
    const all = await this.streamMessages(
      this.ns.topology.jobsStream,
      this.ns.topology.commandSubject('ingestDocument'),
    );
    return all.filter((m) => (m.json<{ jobId?: string }>().jobId ?? '') === jobId);
  }

  async count(
    table: 'jobs' | 'documents' | 'outbox' | 'job_steps' | 'job_events',
    tenantId?: string,
  ): Promise<number> {
    const { rows } = await this.pg.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table}${tenantId ? ' WHERE tenant_id = $1' : ''}`,
      tenantId ? [tenantId] : [],
    );
    return rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    for (const replica of this.replicas) await replica.close();
    await this.app.close();
    await this.prisma.$disconnect();
    await this.pg.end();
    await this.ns.cleanup();
    await this.db.drop();
  }
}

/** A further gateway app of a harness (see `GatewayHarness.replica`). */
export class GatewayReplica {
  private closed = false;

  constructor(
    readonly app: NestFastifyApplication,
    private readonly apiKey: string,
  ) {}

  request<T = Record<string, unknown>>(
    method: InjectOptions['method'],
    url: string,
    options: RequestOptions = {},
  ): Promise<Reply<T>> {
    return injectRequest<T>(this.app, this.apiKey, method, url, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.app.close();
  }
}

async function injectRequest<T>(
  app: NestFastifyApplication,
  defaultKey: string,
  method: InjectOptions['method'],
  url: string,
  options: RequestOptions,
): Promise<Reply<T>> {
  const key = options.apiKey === undefined ? defaultKey : options.apiKey;
  const headers: Record<string, string> = {
    ...(key === null ? {} : { authorization: `Bearer ${key}` }),
    ...options.headers,
  };
  const res = await app
    .getHttpAdapter()
    .getInstance()
    .inject({
      method,
      url,
      headers,
      ...(options.query ? { query: options.query } : {}),
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
  let body: unknown;
  try {
    body = res.body === '' ? undefined : JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  // Every answer a test receives is held to the OpenAPI document (ADR 35): an undocumented status, a body its
  // schema rejects or a missing documented header fails the test that got it.
  conformanceOf(app).assert({
    method: method ?? 'GET',
    path: url,
    status: res.statusCode,
    contentType: res.headers['content-type'],
    body,
    headers: res.headers,
  });
  return { status: res.statusCode, headers: res.headers, body: body as T, text: res.body };
}

const conformances = new WeakMap<NestFastifyApplication, OpenApiConformance>();

/** The app's own OpenAPI document (as /docs/openapi.json serves it), ready to check answers against. */
function conformanceOf(app: NestFastifyApplication): OpenApiConformance {
  let conformance = conformances.get(app);
  if (!conformance) {
    conformance = new OpenApiConformance(createOpenApiDocument(app, app.get(APP_CONFIG), QUARRY_VERSION));
    conformances.set(app, conformance);
  }
  return conformance;
}

export interface UploadBody {
  id: string;
  status: string;
  documents: { id: string; filename: string; status: string; error: unknown }[];
  createdAt: string;
}

export interface ErrorBody {
  code: string;
  message: string;
  errorId?: string;
}

export type Part =
  | { field?: string; filename: string; content: Buffer | string; contentType?: string }
  | { field: string; value: string };

/**
 * A multipart/form-data body written by hand, so tests control every byte of the part headers
 * (file names with path tricks and control characters that a form-data library would escape).
 */
export function multipartBody(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----quarry${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    if ('value' in part) {
      chunks.push(
        Buffer.from(`Content-Disposition: form-data; name="${part.field}"\r\n\r\n${part.value}\r\n`),
      );
      continue;
    }
    const filename = part.filename.replace(/"/g, '%22');
    chunks.push(
      Buffer.from(
        `Content-Disposition: form-data; name="${part.field ?? 'files'}"; filename="${filename}"\r\n` +
          `Content-Type: ${part.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        'utf8',
      ),
    );
    chunks.push(typeof part.content === 'string' ? Buffer.from(part.content, 'utf8') : part.content);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}
