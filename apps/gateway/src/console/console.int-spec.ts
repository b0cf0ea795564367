import { GatewayHarness } from '../testing/gateway-harness';
import { CONSOLE_CSP, findConsoleDir } from './console.routes';

/** The web console inside the real gateway (ADR 38): public, outside /v1, the API key guard and the OpenAPI document. */
describe('the gateway serves the web console at /console', () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await GatewayHarness.start('console', { JAEGER_UI_URL: 'http://127.0.0.1:16686' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers the app without an API key, under a self-only CSP (npm test builds dist/console first)', async () => {
    expect(findConsoleDir()).not.toBeNull();
    for (const url of ['/console', '/console/', '/console/jobs/01a2477b-19b3-70f4-88c4-219a3fba4121']) {
      const res = await h.request('GET', url, { apiKey: null });
      expect([url, res.status]).toEqual([url, 200]);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('/console/assets/');
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    }
    const config = await h.request('GET', '/console/config.json', { apiKey: null });
    expect(config.body).toEqual({ jaegerUiUrl: 'http://127.0.0.1:16686' });
  });

  it('leaves the API as it was: /v1 still needs a key, and /console is not in the OpenAPI document', async () => {
    expect((await h.request('GET', '/v1/jobs', { apiKey: null })).status).toBe(401);
    const doc = await h.request<{ paths: Record<string, unknown> }>('GET', '/docs/openapi.json', {
      apiKey: null,
    });
    expect(Object.keys(doc.body.paths).filter((p) => !p.startsWith('/v1/'))).toEqual([]);
    const notFound = await h.request('GET', '/nope', { apiKey: null });
    expect(notFound.status).toBe(404);
  });
});
