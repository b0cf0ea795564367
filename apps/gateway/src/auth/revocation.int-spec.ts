import { GatewayHarness, type GatewayReplica } from '../testing/gateway-harness';
import { KEY_CACHE_TTL_MS } from './api-key-authenticator';

// Two gateway apps on one database, as two replicas behind a load balancer: a key revoked through one stops working
// on the other within a second (issue 11).

let h: GatewayHarness;
let other: GatewayReplica;

beforeAll(async () => {
  h = await GatewayHarness.start('revoke');
  other = await h.replica();
});
afterAll(async () => {
  await h?.close();
});

async function newKey(): Promise<{ id: string; key: string }> {
  const res = await h.request<{ id: string; key: string }>('POST', '/v1/api-keys', {
    payload: { name: 'to revoke', scopes: ['read'] },
  });
  expect(res.status).toBe(201);
  return res.body;
}

describe('revocation across replicas', () => {
  it('is at most a second old on the other replica', async () => {
    expect(KEY_CACHE_TTL_MS).toBeLessThanOrEqual(1000);
    const { id, key } = await newKey();
    // The other replica has the key in memory: it served it just now.
    expect((await other.request('GET', '/v1/jobs', { apiKey: key })).status).toBe(200);

    const revoke = await h.request('DELETE', `/v1/api-keys/${id}`);
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();

    // Ask the other replica until a second and a half has passed; note when each request was sent.
    const answers: { sentAfterMs: number; status: number }[] = [];
    while (Date.now() - revokedAt < 1500) {
      const sentAfterMs = Date.now() - revokedAt;
      answers.push({ sentAfterMs, status: (await other.request('GET', '/v1/jobs', { apiKey: key })).status });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Nothing asked a second or more after the revocation was served; and once refused, always refused.
    expect(answers.filter((a) => a.sentAfterMs >= 1000).length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.sentAfterMs >= 1000 && a.status !== 401)).toEqual([]);
    const firstRefusal = answers.findIndex((a) => a.status === 401);
    expect(answers.slice(firstRefusal).filter((a) => a.status !== 401)).toEqual([]);
  });

  it('works the other way round, and for a revocation made outside the gateways (ops api-key revoke)', async () => {
    const viaOther = await newKey();
    expect((await h.request('GET', '/v1/jobs', { apiKey: viaOther.key })).status).toBe(200);
    expect((await other.request('DELETE', `/v1/api-keys/${viaOther.id}`)).status).toBe(200);
    // The replica that revoked forgets the key at once.
    expect((await other.request('GET', '/v1/jobs', { apiKey: viaOther.key })).status).toBe(401);

    const viaSql = await newKey();
    expect((await h.request('GET', '/v1/jobs', { apiKey: viaSql.key })).status).toBe(200);
    expect((await other.request('GET', '/v1/jobs', { apiKey: viaSql.key })).status).toBe(200);
    await h.pg.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [viaSql.id]);
    const revokedAt = Date.now();

    for (const [name, replica] of [
      ['first', h],
      ['second', other],
    ] as const) {
      for (const key of [viaOther.key, viaSql.key]) {
        // Ask until refused, or until a request sent a second after the revocation has been answered.
        let answer: { sentAfterMs: number; status: number };
        do {
          const sentAfterMs = Date.now() - revokedAt;
          answer = {
            sentAfterMs,
            status: (await replica.request('GET', '/v1/jobs', { apiKey: key })).status,
          };
          if (answer.status !== 401) await new Promise((resolve) => setTimeout(resolve, 10));
        } while (answer.status !== 401 && answer.sentAfterMs < 1000);
        expect({ name, status: answer.status }).toEqual({ name, status: 401 });
      }
    }
  });
});
