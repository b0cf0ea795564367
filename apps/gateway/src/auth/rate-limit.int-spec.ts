import { GatewayHarness, type ErrorBody, type GatewayReplica } from '../testing/gateway-harness';

// The per-key rate limit with two gateway apps on one database: one budget per key, whichever replica is asked.
// 60 requests a minute, 3 at once: after a burst of three, the next slot opens a second later.

let h: GatewayHarness;
let other: GatewayReplica;

beforeAll(async () => {
  h = await GatewayHarness.start('ratelimit', { RATE_LIMIT_PER_MINUTE: '60', RATE_LIMIT_BURST: '3' });
  other = await h.replica();
});
afterAll(async () => {
  await h?.close();
});

/** A tenant of its own with a full key, so each test starts from a rested budget. */
async function freshKey(name: string): Promise<string> {
  return (await h.createTenant(`${name}-${Date.now()}`)).apiKey;
}

describe('per-key rate limit', () => {
  it('shares one budget across replicas and answers 429 rate_limited with Retry-After', async () => {
    const key = await freshKey('burst');
    const statuses = [];
    for (const gateway of [h, other, h]) {
      statuses.push((await gateway.request('GET', '/v1/jobs', { apiKey: key })).status);
    }
    expect(statuses).toEqual([200, 200, 200]);
    for (const gateway of [other, h]) {
      const limited = await gateway.request<ErrorBody>('GET', '/v1/jobs', { apiKey: key });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ code: 'rate_limited', message: expect.any(String) as unknown });
      expect(limited.headers['retry-after']).toBe('1');
    }
  });

  it('admits the key again once Retry-After has passed, one request a slot', async () => {
    const key = await freshKey('refill');
    const burstStart = Date.now();
    for (let i = 0; i < 3; i++)
      expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(200);
    const limited = await other.request('GET', '/v1/jobs', { apiKey: key });
    expect(limited.status).toBe(429);
    const limitedAt = Date.now();
    const waitMs = Number(limited.headers['retry-after']) * 1000;

    // Ask again and again (a refused request spends nothing, so asking does not push the slot back), until admitted
    // or until a request sent once Retry-After has passed has been answered.
    let answer: { sentAfterMs: number; status: number };
    do {
      const sentAfterMs = Date.now() - limitedAt;
      answer = { sentAfterMs, status: (await other.request('GET', '/v1/jobs', { apiKey: key })).status };
      if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
    } while (answer.status !== 200 && answer.sentAfterMs < waitMs);
    expect(answer.status).toBe(200);
    // Not before its slot: after a burst of three, the fourth request is admitted a second after the first.
    expect(Date.now() - burstStart).toBeGreaterThanOrEqual(1000);
    expect((await h.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(429);
  });

  it('counts each key on its own', async () => {
    const busy = await freshKey('busy');
    const calm = await freshKey('calm');
    for (let i = 0; i < 3; i++) await h.request('GET', '/v1/jobs', { apiKey: busy });
    expect((await h.request('GET', '/v1/jobs', { apiKey: busy })).status).toBe(429);
    expect((await other.request('GET', '/v1/jobs', { apiKey: calm })).status).toBe(200);
  });

  it('spends nothing on refused requests: a wrong scope (403) or no key (401)', async () => {
    const tenant = await freshKey('scoped');
    const res = await h.request<{ key: string }>('POST', '/v1/api-keys', {
      apiKey: tenant,
      payload: { name: 'reader', scopes: ['read'] },
    });
    expect(res.status).toBe(201);
    for (let i = 0; i < 10; i++) {
      expect((await h.request('GET', '/v1/api-keys', { apiKey: res.body.key })).status).toBe(403);
      expect((await h.request('GET', '/v1/jobs', { apiKey: null })).status).toBe(401);
    }
    for (let i = 0; i < 3; i++)
      expect((await h.request('GET', '/v1/jobs', { apiKey: res.body.key })).status).toBe(200);
  });

  it('leaves the probes and metrics public and unlimited', async () => {
    for (let i = 0; i < 20; i++) {
      for (const url of ['/healthz', '/readyz', '/metrics']) {
        expect({ url, status: (await h.request('GET', url, { apiKey: null })).status }).toEqual({
          url,
          status: 200,
        });
      }
    }
  });
});
