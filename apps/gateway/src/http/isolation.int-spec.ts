import { readSse } from '@quarry/testing';
import { GatewayHarness, type Reply, type UploadBody } from '../testing/gateway-harness';

/**
 * Tenant isolation over every route (issue 11): tenant B's key never sees, changes or learns of tenant A's jobs,
 * documents, analyses, dead letters, webhooks, keys, usage or events. A route that names one of A's resources answers
 * B with 404 (never 403, which would say it exists); a list or report shows B nothing of A's. The table is checked
 * against the routes in the OpenAPI document, so a route added without a case fails this test.
 */
interface ResourcesOfA {
  jobId: string;
  documentId: string;
  analysisId: string;
  deadLetterId: string;
  webhookId: string;
  deliveryId: string;
  apiKeyId: string;
}

type Check = (h: GatewayHarness, b: string, a: ResourcesOfA) => Promise<void>;

/** A route that names one of A's resources: B gets 404 not_found, and A's resource is unchanged. */
const notFound =
  (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: (a: ResourcesOfA) => string,
    payload?: unknown,
  ): Check =>
  async (h, b, a) => {
    const r = await h.request<{ code: string }>(method, path(a), {
      apiKey: b,
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    expect([method, path(a), r.status, r.body?.code]).toEqual([method, path(a), 404, 'not_found']);
  };

/** A list of B's own: none of A's ids anywhere in it. */
const listsNothingOfA =
  (path: string): Check =>
  async (h, b, a) => {
    const r = await h.request('GET', path, { apiKey: b });
    expect(r.status).toBe(200);
    for (const id of Object.values(a)) expect(r.text).not.toContain(id);
  };

/** A route that makes something of B's own and names nothing of A's: what it answers never carries A's ids. */
const ownWork =
  (method: 'POST', path: string, payload: () => unknown): Check =>
  async (h, b, a) => {
    const r = await h.request(method, path, { apiKey: b, payload: payload() as Record<string, unknown> });
    expect(r.status).toBeLessThan(500);
    for (const id of Object.values(a)) expect(r.text).not.toContain(id);
  };

const cases: Record<string, Check> = {
  'POST /v1/documents': async (h, b, a) => {
    const r = await h.upload([{ filename: 'b.txt', content: 'tenant b' }], { apiKey: b });
    expect(r.status).toBe(202);
    for (const id of Object.values(a)) expect(r.text).not.toContain(id);
  },
  // Authenticated by the crawler's signature, not a key; off in this harness (no FIRECRAWL_WEBHOOK_SECRET).
  'POST /v1/ingest/firecrawl': async (h, b) => {
    const r = await h.request('POST', '/v1/ingest/firecrawl', { apiKey: b, payload: {} });
    expect(r.status).toBe(404);
  },
  'GET /v1/documents/{id}': notFound('GET', (a) => `/v1/documents/${a.documentId}`),
  'PATCH /v1/documents/{id}': notFound('PATCH', (a) => `/v1/documents/${a.documentId}`, { tags: ['x'] }),
  'DELETE /v1/documents/{id}': notFound('DELETE', (a) => `/v1/documents/${a.documentId}`),
  'POST /v1/analyses': ownWork('POST', '/v1/analyses', () => ({
    type: 'summarize',
    filter: { tags: ['nothing-here'] },
  })),
  'GET /v1/analyses/{id}': notFound('GET', (a) => `/v1/analyses/${a.analysisId}`),
  'POST /v1/reindex': ownWork('POST', '/v1/reindex', () => ({})),
  'GET /v1/jobs': listsNothingOfA('/v1/jobs'),
  'GET /v1/jobs/{id}': notFound('GET', (a) => `/v1/jobs/${a.jobId}`),
  'POST /v1/jobs/{id}/cancel': notFound('POST', (a) => `/v1/jobs/${a.jobId}/cancel`),
  'POST /v1/jobs/{id}/retry': notFound('POST', (a) => `/v1/jobs/${a.jobId}/retry`),
  'GET /v1/jobs/{id}/events': notFound('GET', (a) => `/v1/jobs/${a.jobId}/events`),
  'GET /v1/events': async (h, b, a) => {
    // From the stream's start: A's events come first in it; B's first event must be B's own.
    const port = await h.listen();
    const reading = readSse(`http://127.0.0.1:${port}/v1/events`, {
      headers: { authorization: `Bearer ${b}`, 'last-event-id': '0' },
      stopAfter: () => true,
    });
    await h.upload([{ filename: 'b2.txt', content: 'tenant b again' }], { apiKey: b });
    const read = await reading;
    expect(read.events).toHaveLength(1);
    expect(read.events[0]?.data).not.toContain(a.jobId);
    expect(read.events[0]?.data).not.toContain(h.tenantId);
  },
  'GET /v1/dead-letters': listsNothingOfA('/v1/dead-letters'),
  'GET /v1/dead-letters/{id}': notFound('GET', (a) => `/v1/dead-letters/${a.deadLetterId}`),
  'POST /v1/dead-letters/{id}/replay': notFound('POST', (a) => `/v1/dead-letters/${a.deadLetterId}/replay`),
  // No analysis worker answers searches in this harness (503); chunks.search.int-spec shows the tenant filter.
  'POST /v1/search': async (h, b, a) => {
    const r = await h.request('POST', '/v1/search', { apiKey: b, payload: { query: 'tenant a secret' } });
    expect([200, 503]).toContain(r.status);
    for (const id of Object.values(a)) expect(r.text).not.toContain(id);
  },
  'GET /v1/usage': async (h, b) => {
    type Usage = { totals: Record<string, number> };
    const before = await h.request<Usage>('GET', '/v1/usage', { apiKey: b });
    const aBefore = await h.request<Usage>('GET', '/v1/usage');
    await h.upload([{ filename: 'a2.txt', content: 'more of tenant a' }]);
    const after = await h.request<Usage>('GET', '/v1/usage', { apiKey: b });
    const aAfter = await h.request<Usage>('GET', '/v1/usage');
    expect(before.status).toBe(200);
    // A's new work shows in A's usage and not in B's.
    expect(aAfter.body.totals['storageBytes']).toBeGreaterThan(aBefore.body.totals['storageBytes'] ?? 0);
    expect(after.body.totals).toEqual(before.body.totals);
  },
  'POST /v1/api-keys': ownWork('POST', '/v1/api-keys', () => ({ name: 'b-key', scopes: ['read'] })),
  'GET /v1/api-keys': listsNothingOfA('/v1/api-keys'),
  'GET /v1/api-keys/{id}': notFound('GET', (a) => `/v1/api-keys/${a.apiKeyId}`),
  'DELETE /v1/api-keys/{id}': notFound('DELETE', (a) => `/v1/api-keys/${a.apiKeyId}`),
  'POST /v1/webhooks': ownWork('POST', '/v1/webhooks', () => ({
    url: 'http://127.0.0.1:9999/b',
    events: ['*'],
  })),
  'GET /v1/webhooks': listsNothingOfA('/v1/webhooks'),
  'GET /v1/webhooks/{id}': notFound('GET', (a) => `/v1/webhooks/${a.webhookId}`),
  'PATCH /v1/webhooks/{id}': notFound('PATCH', (a) => `/v1/webhooks/${a.webhookId}`, { enabled: false }),
  'DELETE /v1/webhooks/{id}': notFound('DELETE', (a) => `/v1/webhooks/${a.webhookId}`),
  'POST /v1/webhooks/{id}/rotate-secret': notFound(
    'POST',
    (a) => `/v1/webhooks/${a.webhookId}/rotate-secret`,
  ),
  'GET /v1/webhooks/{id}/deliveries': notFound('GET', (a) => `/v1/webhooks/${a.webhookId}/deliveries`),
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/replay': notFound(
    'POST',
    (a) => `/v1/webhooks/${a.webhookId}/deliveries/${a.deliveryId}/replay`,
  ),
};

describe('tenant isolation on every route', () => {
  let h: GatewayHarness;
  let a: ResourcesOfA;
  let b: string;

  beforeAll(async () => {
    h = await GatewayHarness.start('isolation', { WEBHOOK_ALLOW_HOSTS: '127.0.0.1' });
    const up = await h.upload<UploadBody>([{ filename: 'a.txt', content: 'tenant a secret' }]);
    const analysis = await h.request<{ id: string }>('POST', '/v1/analyses', {
      payload: { type: 'summarize', filter: { tags: ['x'] } },
    });
    const hook = await h.request<{ id: string }>('POST', '/v1/webhooks', {
      payload: { url: 'http://127.0.0.1:9999/a', events: ['*'] },
    });
    const key = await h.request<{ id: string }>('POST', '/v1/api-keys', {
      payload: { name: 'a-key', scopes: ['read'] },
    });
    const jobId = up.body.id;
    const documentId = up.body.documents[0]?.id ?? '';
    const { rows: dl } = await h.pg.query<{ id: string }>(
      `INSERT INTO dead_letters (id, tenant_id, job_id, document_id, command, origin_subject, origin_msg_id,
                                 dlq_stream_seq, code, reason, delivery_count, payload)
       VALUES (gen_random_uuid(), $1, $2, $3, 'ingestDocument', 'x.jobs.ingest', 'm', 1, 'internal', 'r', 5, '{}')
       RETURNING id`,
      [h.tenantId, jobId, documentId],
    );
    const { rows: delivery } = await h.pg.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, status)
       VALUES ($1, $2, gen_random_uuid(), 'job.queued', '{}', 'failed') RETURNING id`,
      [h.tenantId, hook.body.id],
    );
    a = {
      jobId,
      documentId,
      analysisId: analysis.body.id,
      deadLetterId: dl[0]?.id ?? '',
      webhookId: hook.body.id,
      deliveryId: delivery[0]?.id ?? '',
      apiKeyId: key.body.id,
    };
    for (const [what, id] of Object.entries(a))
      expect([what, id]).toEqual([what, expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    b = (await h.createTenant('isolation-b')).apiKey;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('has a case for every route of the API', async () => {
    const doc = await h.request<{ paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/docs/openapi.json',
      {
        apiKey: null,
      },
    );
    const routes = Object.entries(doc.body.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(Object.keys(cases).sort());
  });

  it.each(Object.keys(cases))('%s: tenant B sees, changes and learns nothing of tenant A', async (route) => {
    await (cases[route] as Check)(h, b, a);
  });

  it("leaves every one of A's resources as it was", async () => {
    for (const path of [
      `/v1/jobs/${a.jobId}`,
      `/v1/documents/${a.documentId}`,
      `/v1/analyses/${a.analysisId}`,
      `/v1/dead-letters/${a.deadLetterId}`,
      `/v1/webhooks/${a.webhookId}`,
      `/v1/api-keys/${a.apiKeyId}`,
    ]) {
      const r: Reply = await h.request('GET', path);
      expect([path, r.status]).toEqual([path, 200]);
    }
    expect((await h.request<{ enabled: boolean }>('GET', `/v1/webhooks/${a.webhookId}`)).body.enabled).toBe(
      true,
    );
    expect(
      (await h.request<{ revokedAt: string | null }>('GET', `/v1/api-keys/${a.apiKeyId}`)).body.revokedAt,
    ).toBe(null);
    expect((await h.request<{ status: string }>('GET', `/v1/jobs/${a.jobId}`)).body.status).toBe('queued');
  });
});
