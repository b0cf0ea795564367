import { randomBytes } from 'node:crypto';
import { GatewayHarness, type ErrorBody, type UploadBody } from '../testing/gateway-harness';

let h: GatewayHarness;

beforeAll(async () => {
  h = await GatewayHarness.start('auth');
});
afterAll(async () => {
  await h?.close();
});

function expectUnauthorized(res: { status: number; body: unknown; headers: Record<string, unknown> }) {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ code: 'unauthorized', message: expect.any(String) as unknown });
  expect(res.headers['www-authenticate']).toBe('Bearer');
}

describe('API key authentication', () => {
  it('creates the bootstrap tenant "default" holding the bootstrap key (stored hashed)', async () => {
    const { rows } = await h.pg.query<{ name: string; key_hash: string; prefix: string }>(
      'SELECT t.name, k.key_hash, k.prefix FROM tenants t JOIN api_keys k ON k.tenant_id = t.id',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'default', prefix: h.apiKey.slice(0, 6) });
    expect(rows[0]!.key_hash).not.toContain(h.apiKey);
    expect(rows[0]!.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the key with any casing of "Bearer"', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const res = await h.request('GET', '/v1/jobs', {
        apiKey: null,
        headers: { authorization: `${scheme} ${h.apiKey}` },
      });
      expect(res.status).toBe(200);
    }
  });

  it.each([
    ['no Authorization header', undefined],
    ['an empty header', ''],
    ['"Bearer" without a key', 'Bearer'],
    ['"Bearer " and spaces', 'Bearer    '],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['the key without a scheme', 'KEY'],
    ['two tokens', 'Bearer KEY extra'],
    ['an unknown key', 'Bearer not-a-real-key-0123456789'],
    ['the key with a suffix', 'Bearer KEYx'],
  ])('answers 401 unauthorized for %s', async (_name, header) => {
    const value = header?.replace('KEY', h.apiKey);
    const res = await h.request('GET', '/v1/jobs', {
      apiKey: null,
      headers: value === undefined ? {} : { authorization: value },
    });
    expectUnauthorized(res);
  });

  it('rejects a revoked key', async () => {
    const revoked = await h.createTenant(`revoked-${randomBytes(3).toString('hex')}`);
    await h.pg.query('UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1', [revoked.tenantId]);
    expectUnauthorized(await h.request('GET', '/v1/jobs', { apiKey: revoked.apiKey }));
  });

  it('checks the key before validating input or reaching NATS', async () => {
    expectUnauthorized(await h.request('GET', '/v1/jobs/not-a-uuid', { apiKey: null }));
    expectUnauthorized(await h.request('GET', '/v1/jobs?limit=0', { apiKey: 'nope-nope-nope' }));
    expectUnauthorized(await h.request('GET', '/v1/documents/not-a-uuid', { apiKey: null }));
    expectUnauthorized(await h.request('POST', '/v1/search', { apiKey: null, payload: { query: 'x' } }));
  });
});

describe('tenant isolation', () => {
  let jobA: UploadBody;
  let other: { tenantId: string; apiKey: string };
  let jobB: UploadBody;

  beforeAll(async () => {
    other = await h.createTenant('tenant-b');
    const a = await h.upload([{ filename: 'secret-a.txt', content: 'tenant a only' }]);
    const b = await h.upload([{ filename: 'secret-b.txt', content: 'tenant b only' }], {
      apiKey: other.apiKey,
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    jobA = a.body;
    jobB = b.body;
  });

  it("answers 404 not_found for another tenant's job and document, exactly as for unknown ids", async () => {
    for (const [key, job] of [
      [other.apiKey, jobA],
      [h.apiKey, jobB],
    ] as const) {
      const j = await h.request<ErrorBody>('GET', `/v1/jobs/${job.id}`, { apiKey: key });
      expect(j.status).toBe(404);
      expect(j.body).toMatchObject({ code: 'not_found' });
      const d = await h.request<ErrorBody>('GET', `/v1/documents/${job.documents[0]!.id}`, { apiKey: key });
      expect(d.status).toBe(404);
      expect(d.body).toMatchObject({ code: 'not_found' });
    }
    // The owners still see their own.
    expect((await h.request('GET', `/v1/jobs/${jobA.id}`)).status).toBe(200);
    expect(
      (await h.request('GET', `/v1/documents/${jobB.documents[0]!.id}`, { apiKey: other.apiKey })).status,
    ).toBe(200);
  });

  it("never lists another tenant's jobs", async () => {
    const listB = await h.request<{ items: { id: string }[] }>('GET', '/v1/jobs', { apiKey: other.apiKey });
    expect(listB.body.items.map((j) => j.id)).toEqual([jobB.id]);
    const listA = await h.request<{ items: { id: string }[] }>('GET', '/v1/jobs?status=queued', {
      apiKey: h.apiKey,
    });
    expect(listA.body.items.map((j) => j.id)).toContain(jobA.id);
    expect(listA.body.items.map((j) => j.id)).not.toContain(jobB.id);
  });

  it('stores blobs under the owning tenant', async () => {
    const names = await h.blobNames();
    expect(names).toContain(`${h.tenantId}/${jobA.documents[0]!.id}`);
    expect(names).toContain(`${other.tenantId}/${jobB.documents[0]!.id}`);
  });

  it('scopes Idempotency-Key per tenant: the same key in two tenants makes two jobs', async () => {
    const key = `shared-${randomBytes(4).toString('hex')}`;
    const a = await h.upload([{ filename: 'a.txt', content: 'a' }], { headers: { 'idempotency-key': key } });
    const b = await h.upload([{ filename: 'b.txt', content: 'b' }], {
      apiKey: other.apiKey,
      headers: { 'idempotency-key': key },
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.documents.map((d) => d.filename)).toEqual(['b.txt']);
  });
});
