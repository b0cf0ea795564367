import { hashApiKey } from '@quarry/persistence';
import { MINTED_API_KEY, type ApiKeyScope } from '@quarry/contracts';
import { randomUUID } from 'node:crypto';
import { GatewayHarness, type ErrorBody, type Reply } from '../testing/gateway-harness';

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('apikeys');
});
afterAll(async () => {
  await h?.close();
});

interface KeyBody {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

async function createKey(
  body: Record<string, unknown>,
  apiKey: string = h.apiKey,
): Promise<Reply<KeyBody & { key: string }>> {
  return h.request<KeyBody & { key: string }>('POST', '/v1/api-keys', { apiKey, payload: body });
}

async function keyWith(
  scopes: ApiKeyScope[],
  apiKey: string = h.apiKey,
): Promise<{ id: string; key: string }> {
  const res = await createKey({ name: scopes.join('+'), scopes }, apiKey);
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

/** Polls `check` until it is true or `ms` have passed; returns whether it became true. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('POST /v1/api-keys', () => {
  it('answers 201 with the key shown once, its prefix, scopes and expiry, and stores only its hash', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const res = await createKey({ name: 'ci uploads', scopes: ['write', 'read'], expiresAt });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      name: 'ci uploads',
      prefix: expect.stringMatching(/^qk_[0-9a-f]{8}$/) as unknown,
      scopes: ['read', 'write'],
      createdAt: expect.any(String) as unknown,
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      key: expect.stringMatching(MINTED_API_KEY) as unknown,
    });
    expect(res.body.key.startsWith(`${res.body.prefix}_`)).toBe(true);
    expect(res.headers['location']).toBe(`/v1/api-keys/${res.body.id}`);
    const { rows } = await h.pg.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [
      res.body.id,
    ]);
    expect(rows).toEqual([{ key_hash: hashApiKey(res.body.key) }]);
    const dump = JSON.stringify((await h.pg.query('SELECT * FROM api_keys')).rows);
    expect(dump).not.toContain(res.body.key);

    // The key works at once, and is never shown again.
    expect((await h.request('GET', '/v1/jobs', { apiKey: res.body.key })).status).toBe(200);
    const again = await h.request<KeyBody>('GET', `/v1/api-keys/${res.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body).not.toHaveProperty('key');
    expect(again.text).not.toContain(res.body.key.slice(12));
  });

  it.each([
    ['no name', { scopes: ['read'] }],
    ['an empty name', { name: ' ', scopes: ['read'] }],
    ['no scopes', { name: 'n' }],
    ['an empty scope list', { name: 'n', scopes: [] }],
    ['an unknown scope', { name: 'n', scopes: ['read', 'root'] }],
    ['an expiry that is not a date', { name: 'n', scopes: ['read'], expiresAt: 'tomorrow' }],
    ['an expiry in the past', { name: 'n', scopes: ['read'], expiresAt: '2020-01-01T00:00:00Z' }],
    ['a field it does not know', { name: 'n', scopes: ['read'], tenantId: randomUUID() }],
  ])('answers 400 validation_failed for %s', async (_what, body) => {
    const res = await createKey(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed' });
  });

  it('lets an admin-only key create a key with any scopes', async () => {
    const admin = await keyWith(['admin']);
    const res = await createKey({ name: 'full', scopes: ['read', 'write', 'admin'] }, admin.key);
    expect(res.status).toBe(201);
    expect(res.body.scopes).toEqual(['read', 'write', 'admin']);
  });
});

describe('scopes', () => {
  // One probe per scope that gets past the guard without side effects: a list, a cancel of a job that does not
  // exist (404 after the guard), the key list.
  const probes: Record<ApiKeyScope, [method: 'GET' | 'POST', url: string, passed: number]> = {
    read: ['GET', '/v1/jobs', 200],
    write: ['POST', `/v1/jobs/${randomUUID()}/cancel`, 404],
    admin: ['GET', '/v1/api-keys', 200],
  };

  it.each<[string, ApiKeyScope[]]>([
    ['read-only', ['read']],
    ['write-only', ['write']],
    ['admin-only', ['admin']],
    ['read-and-write', ['read', 'write']],
  ])(
    'a %s key passes the routes of its scopes and gets 403 insufficient_scope on the others',
    async (_n, held) => {
      const { key } = await keyWith(held);
      for (const [scope, [method, url, passed]] of Object.entries(probes) as [
        ApiKeyScope,
        (typeof probes)[ApiKeyScope],
      ][]) {
        const res = await h.request<ErrorBody & { requiredScope?: string }>(method, url, { apiKey: key });
        if (held.includes(scope)) {
          expect({ scope, status: res.status }).toEqual({ scope, status: passed });
        } else {
          expect({ scope, status: res.status, body: res.body }).toEqual({
            scope,
            status: 403,
            body: {
              code: 'insufficient_scope',
              message: expect.stringContaining(scope) as unknown,
              requiredScope: scope,
            },
          });
        }
      }
    },
  );

  it('gives the bootstrap key (and `ops api-key <tenant> <key>` keys) every scope', async () => {
    for (const [method, url, passed] of Object.values(probes)) {
      expect((await h.request(method, url)).status).toBe(passed);
    }
    const other = await h.createTenant('ops-made');
    for (const [method, url, passed] of Object.values(probes)) {
      expect((await h.request(method, url, { apiKey: other.apiKey })).status).toBe(passed);
    }
  });

  it('checks the scope before reading the input: a read key gets 403, not 400, on a bad upload', async () => {
    const { key } = await keyWith(['read']);
    const jobsBefore = await h.count('jobs', h.tenantId);
    const res = await h.request('POST', '/v1/documents', {
      apiKey: key,
      headers: { 'content-type': 'application/json' },
      payload: '{"urls": "not a list"}',
    });
    expect(res.status).toBe(403);
    expect(await h.count('jobs', h.tenantId)).toBe(jobsBefore);
  });

  it('lets a write key upload and a read key follow the job', async () => {
    const writer = await keyWith(['write']);
    const reader = await keyWith(['read']);
    const upload = await h.upload([{ filename: 'a.txt', content: 'scoped' }], { apiKey: writer.key });
    expect(upload.status).toBe(202);
    expect((await h.request('GET', `/v1/jobs/${upload.body.id}`, { apiKey: reader.key })).status).toBe(200);
    expect((await h.request('GET', `/v1/jobs/${upload.body.id}`, { apiKey: writer.key })).status).toBe(403);
  });
});

describe('GET /v1/api-keys and GET /v1/api-keys/:id', () => {
  it('lists the tenant’s keys newest first, without secrets, with lastUsedAt and revokedAt', async () => {
    const used = await keyWith(['read']);
    const revoked = await keyWith(['read']);
    expect((await h.request('GET', '/v1/jobs', { apiKey: used.key })).status).toBe(200);
    expect((await h.request('DELETE', `/v1/api-keys/${revoked.id}`)).status).toBe(200);
    // The use is recorded off the request's path.
    const seen = await eventually(async () => {
      const one = await h.request<KeyBody>('GET', `/v1/api-keys/${used.id}`);
      return one.body.lastUsedAt !== null;
    }, 5000);
    expect(seen).toBe(true);

    const list = await h.request<{ items: KeyBody[] }>('GET', '/v1/api-keys');
    expect(list.status).toBe(200);
    const ids = list.body.items.map((k) => k.id);
    expect(ids.indexOf(revoked.id)).toBeLessThan(ids.indexOf(used.id));
    const byId = new Map(list.body.items.map((k) => [k.id, k]));
    expect(byId.get(used.id)?.lastUsedAt).toEqual(expect.any(String));
    expect(byId.get(revoked.id)?.revokedAt).toEqual(expect.any(String));
    expect(byId.get(used.id)?.revokedAt).toBeNull();
    // The bootstrap key is listed too, with every scope.
    expect(list.body.items).toContainEqual(
      expect.objectContaining({ name: 'bootstrap', scopes: ['read', 'write', 'admin'] }),
    );
    for (const k of list.body.items) expect(Object.keys(k)).not.toContain('key');
    expect(list.text).not.toContain(used.key.slice(12));
    expect(list.text).not.toContain(h.apiKey);
  });

  it('records a use at most once a minute, not on every request', async () => {
    const { id, key } = await keyWith(['read']);
    expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(200);
    const first = await eventually(async () => {
      const { rows } = await h.pg.query(
        'SELECT last_used_at FROM api_keys WHERE id = $1 AND last_used_at IS NOT NULL',
        [id],
      );
      return rows.length === 1;
    }, 5000);
    expect(first).toBe(true);
    const before = (
      await h.pg.query<{ t: Date }>('SELECT last_used_at AS t FROM api_keys WHERE id = $1', [id])
    ).rows[0]!.t;
    for (let i = 0; i < 5; i++)
      expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(200);
    const after = (
      await h.pg.query<{ t: Date }>('SELECT last_used_at AS t FROM api_keys WHERE id = $1', [id])
    ).rows[0]!.t;
    expect(after).toEqual(before);
  });

  it('answers 400 for an id that is not a UUID and 404 for one that is not there', async () => {
    expect((await h.request('GET', '/v1/api-keys/nope')).status).toBe(400);
    expect((await h.request<ErrorBody>('GET', `/v1/api-keys/${randomUUID()}`)).body.code).toBe('not_found');
    expect((await h.request<ErrorBody>('DELETE', `/v1/api-keys/${randomUUID()}`)).status).toBe(404);
  });
});

describe('DELETE /v1/api-keys/:id', () => {
  it('revokes: the key is refused at once on this gateway, the answer says when, and again keeps that time', async () => {
    const { id, key } = await keyWith(['read']);
    expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(200);
    const res = await h.request<KeyBody>('DELETE', `/v1/api-keys/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, revokedAt: expect.any(String) as unknown });
    expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(401);
    const again = await h.request<KeyBody>('DELETE', `/v1/api-keys/${id}`);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(res.body.revokedAt);
  });

  it('lets a key revoke itself; its next request is refused', async () => {
    const { id, key } = await keyWith(['admin']);
    expect((await h.request('DELETE', `/v1/api-keys/${id}`, { apiKey: key })).status).toBe(200);
    expect((await h.request('GET', '/v1/api-keys', { apiKey: key })).status).toBe(401);
  });
});

describe('expiry', () => {
  it('refuses a key from its expiry on with 401', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const res = await createKey({ name: 'short', scopes: ['read'], expiresAt: expiresAt.toISOString() });
    expect(res.status).toBe(201);
    expect((await h.request('GET', '/v1/jobs', { apiKey: res.body.key })).status).toBe(200);
    let refused: Reply<ErrorBody> | undefined;
    const gone = await eventually(async () => {
      const sentAt = Date.now();
      const r = await h.request<ErrorBody>('GET', '/v1/jobs', { apiKey: res.body.key });
      if (r.status === 200) {
        // Served, so it reached the guard before the expiry.
        expect(sentAt).toBeLessThan(expiresAt.getTime());
        return false;
      }
      refused = r;
      return true;
    }, 5000);
    expect(gone).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(refused).toMatchObject({
      status: 401,
      body: { code: 'unauthorized', message: 'API key expired' },
    });
  });
});

describe('isolation between tenants', () => {
  it("answers 404 to tenant B's admin key for tenant A's keys, and lists only B's", async () => {
    const aKey = await keyWith(['read']);
    const b = await h.createTenant('tenant-b-keys');
    const bAdmin = await keyWith(['admin'], b.apiKey);

    const list = await h.request<{ items: KeyBody[] }>('GET', '/v1/api-keys', { apiKey: bAdmin.key });
    expect(list.status).toBe(200);
    // B's own two: the one it was made with and the admin key it made.
    const { rows: bKeys } = await h.pg.query<{ id: string }>('SELECT id FROM api_keys WHERE tenant_id = $1', [
      b.tenantId,
    ]);
    expect(bKeys).toHaveLength(2);
    expect(list.body.items.map((k) => k.id).sort()).toEqual(bKeys.map((r) => r.id).sort());
    expect(list.body.items.map((k) => k.id)).not.toContain(aKey.id);

    for (const method of ['GET', 'DELETE'] as const) {
      const res = await h.request<ErrorBody>(method, `/v1/api-keys/${aKey.id}`, { apiKey: bAdmin.key });
      expect({ method, status: res.status, code: res.body.code }).toEqual({
        method,
        status: 404,
        code: 'not_found',
      });
    }
    // A's key was not revoked by B's attempt.
    expect((await h.request('GET', '/v1/jobs', { apiKey: aKey.key })).status).toBe(200);
    const { rows } = await h.pg.query('SELECT revoked_at FROM api_keys WHERE id = $1', [aKey.id]);
    expect(rows).toEqual([{ revoked_at: null }]);
  });

  it('makes the keys a tenant creates belong to that tenant', async () => {
    const b = await h.createTenant('tenant-b-creates');
    const made = await keyWith(['read'], b.apiKey);
    const { rows } = await h.pg.query('SELECT tenant_id FROM api_keys WHERE id = $1', [made.id]);
    expect(rows).toEqual([{ tenant_id: b.tenantId }]);
    expect((await h.request('GET', `/v1/api-keys/${made.id}`)).status).toBe(404);
  });
});
