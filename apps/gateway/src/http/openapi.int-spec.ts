import { OpenApiConformance } from '@quarry/testing';
import { buildOpenApiDocument } from '../openapi-document';
import { GatewayHarness } from '../testing/gateway-harness';

// The harness holds every answer to the document (ADR 35); this shows the check is live on real answers, and that
// the document a running gateway serves is the one generated offline.

let h: GatewayHarness;
let conformance: OpenApiConformance;
let served: Record<string, unknown>;

beforeAll(async () => {
  h = await GatewayHarness.start('openapi');
  const doc = await h.request('GET', '/docs/openapi.json', { apiKey: null });
  expect(doc.status).toBe(200);
  served = doc.body;
  conformance = new OpenApiConformance(served);
});
afterAll(async () => {
  await h?.close();
});

describe('the OpenAPI document served at /docs/openapi.json', () => {
  it('is the document generated without a running gateway', async () => {
    expect(served).toEqual(await buildOpenApiDocument(h.config));
  });

  it('accepts a real answer and refuses it changed', async () => {
    const upload = await h.upload([{ filename: 'a.txt', content: 'hello' }]);
    expect(upload.status).toBe(202);
    const job = await h.request('GET', `/v1/jobs/${upload.body.id}`);
    const real = {
      method: 'GET',
      path: `/v1/jobs/${upload.body.id}`,
      status: job.status,
      contentType: job.headers['content-type'] as string,
      body: job.body,
      headers: job.headers,
    };
    expect(conformance.problem(real)).toBeUndefined();
    expect(conformance.problem({ ...real, body: { ...job.body, surprise: true } })).toMatch(
      /must NOT have additional properties/,
    );
    expect(conformance.problem({ ...real, body: { ...job.body, status: 'sleeping' } })).toMatch(
      /\/status must be equal to one of the allowed values/,
    );
    expect(conformance.problem({ ...real, status: 418 })).toMatch(/getJob does not list 418/);
    expect(conformance.problem({ ...real, contentType: 'text/html' })).toMatch(/not application\/json/);
  });

  it('refuses an error code the route does not list, and a 202 without its Location', async () => {
    const missing = await h.request('GET', '/v1/jobs/0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f');
    expect(missing.status).toBe(404);
    const real = {
      method: 'GET',
      path: '/v1/jobs/0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f',
      status: 404,
      contentType: 'application/json',
      body: missing.body,
      headers: missing.headers,
    };
    expect(conformance.problem(real)).toBeUndefined();
    expect(conformance.problem({ ...real, body: { ...missing.body, code: 'feature_disabled' } })).toMatch(
      /\/code must be equal to one of the allowed values/,
    );
    const upload = await h.upload([{ filename: 'b.txt', content: 'hello' }]);
    const { location: _location, ...withoutLocation } = upload.headers;
    expect(
      conformance.problem({
        method: 'POST',
        path: '/v1/documents',
        status: 202,
        contentType: 'application/json',
        body: upload.body,
        headers: withoutLocation,
      }),
    ).toMatch(/without its header Location/);
  });

  it('leaves unknown paths to the router, but not an undescribed /v1 route', () => {
    const base = {
      method: 'GET',
      contentType: 'application/json',
      body: { code: 'not_found', message: 'x' },
    };
    expect(conformance.problem({ ...base, path: '/v1/nothing-here', status: 404 })).toBeUndefined();
    expect(conformance.problem({ ...base, path: '/healthz', status: 200 })).toBeUndefined();
    expect(conformance.problem({ ...base, path: '/v1/nothing-here', status: 200 })).toMatch(/no operation/);
  });
});
