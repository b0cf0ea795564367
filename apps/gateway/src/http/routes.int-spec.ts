import { GatewayHarness, type ErrorBody } from '../testing/gateway-harness';

describe('routes, probes and API docs', () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await GatewayHarness.start('routes');
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    ['GET', '/nope', 'without'],
    ['GET', '/v1/nope', 'with'],
    ['GET', '/v1/nope', 'without'],
    ['DELETE', '/v1/jobs', 'with'],
    ['PUT', '/v1/documents', 'with'],
    ['GET', '/v2/jobs', 'with'],
  ] as const)('answers %s %s %s an API key with 404 not_found as JSON', async (method, url, key) => {
    const res = await h.request<ErrorBody>(method, url, key === 'with' ? {} : { apiKey: null });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ code: 'not_found', message: expect.stringContaining(url) as unknown });
  });

  it('answers /healthz without an API key', async () => {
    const res = await h.request('GET', '/healthz', { apiKey: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('answers /readyz 200 ready when PostgreSQL and NATS answer', async () => {
    const res = await h.request('GET', '/readyz', { apiKey: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'ok', nats: 'ok' } });
  });

  it('serves Swagger UI at /docs without an API key', async () => {
    const res = await h.request('GET', '/docs', { apiKey: null });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('swagger-ui');
  });

  it('lists every /v1 route in /docs/openapi.json, with bearer auth and without the probes', async () => {
    const res = await h.request<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    }>('GET', '/docs/openapi.json', { apiKey: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const routes = Object.entries(res.body.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'POST /v1/documents',
        'POST /v1/ingest/firecrawl',
        'GET /v1/documents/{id}',
        'DELETE /v1/documents/{id}',
        'PATCH /v1/documents/{id}',
        'POST /v1/analyses',
        'GET /v1/analyses/{id}',
        'POST /v1/reindex',
        'GET /v1/jobs',
        'GET /v1/jobs/{id}',
        'POST /v1/jobs/{id}/cancel',
        'POST /v1/jobs/{id}/retry',
        'GET /v1/dead-letters',
        'GET /v1/dead-letters/{id}',
        'POST /v1/dead-letters/{id}/replay',
        'POST /v1/search',
        'GET /v1/usage',
        'POST /v1/api-keys',
        'GET /v1/api-keys',
        'GET /v1/api-keys/{id}',
        'DELETE /v1/api-keys/{id}',
        'GET /v1/jobs/{id}/events',
        'GET /v1/events',
        'POST /v1/webhooks',
        'GET /v1/webhooks',
        'GET /v1/webhooks/{id}',
        'PATCH /v1/webhooks/{id}',
        'DELETE /v1/webhooks/{id}',
        'POST /v1/webhooks/{id}/rotate-secret',
        'GET /v1/webhooks/{id}/deliveries',
        'POST /v1/webhooks/{id}/deliveries/{deliveryId}/replay',
      ].sort(),
    );
    expect(Object.values(res.body.components.securitySchemes)).toContainEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
  });
});

describe('when PostgreSQL is gone', () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await GatewayHarness.start('dbdown');
    // A first request proves the key; the ones after the drop fail on the guard's own statements (the key lookup,
    // the rate limit) or on the repositories' — 503 either way.
    expect((await h.request('GET', '/v1/jobs')).status).toBe(200);
    await h.db.drop();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps /healthz at 200 and turns /readyz to 503 not_ready naming the database', async () => {
    expect((await h.request('GET', '/healthz', { apiKey: null })).status).toBe(200);
    const ready = await h.request<{ status: string; checks: Record<string, string> }>('GET', '/readyz', {
      apiKey: null,
    });
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not_ready');
    expect(ready.body.checks['nats']).toBe('ok');
    expect(ready.body.checks['database']).not.toBe('ok');
  });

  it('answers API calls with 503 dependency_unavailable and an errorId and leaks no connection details', async () => {
    const res = await h.request<ErrorBody>('GET', '/v1/jobs');
    expect(res.status).toBe(503);
    expect(res.body.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.code).toBe('dependency_unavailable');
    const dbName = new URL(h.db.url).pathname.slice(1);
    expect(res.text).not.toContain(dbName);
    expect(res.text).not.toMatch(/prisma|postgres|ECONNREFUSED|does not exist/i);
  });
});
