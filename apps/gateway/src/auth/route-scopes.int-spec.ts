import type { ApiKeyScope } from '@quarry/contracts';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { GatewayHarness } from '../testing/gateway-harness';
import { describeRoutes, registeredControllers, type RouteAccess } from './route-scopes';

// The route walk: every HTTP route the running gateway registers declares a scope (or is public). A route added
// without @RequireScope fails here, and answers 500 to every caller until it declares one.

let h: GatewayHarness;
let routes: RouteAccess[];

beforeAll(async () => {
  h = await GatewayHarness.start('scopes');
  routes = describeRoutes(registeredControllers(h.app.get(ModulesContainer)), h.app.get(Reflector));
});
afterAll(async () => {
  await h?.close();
});

/** What each route of issues 1-11 needs (ADR 31): GET reads, work is written, keys and webhooks are administered. */
const DECIDED: Record<string, ApiKeyScope | 'public'> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'POST /v1/documents': 'write',
  'GET /v1/documents/:id': 'read',
  'PATCH /v1/documents/:id': 'write',
  'DELETE /v1/documents/:id': 'write',
  'POST /v1/ingest/firecrawl': 'write',
  'GET /v1/jobs': 'read',
  'GET /v1/jobs/:id': 'read',
  'POST /v1/jobs/:id/cancel': 'write',
  'POST /v1/jobs/:id/retry': 'write',
  'POST /v1/search': 'read',
  'POST /v1/analyses': 'write',
  'GET /v1/analyses/:id': 'read',
  'POST /v1/reindex': 'write',
  'GET /v1/dead-letters': 'read',
  'GET /v1/dead-letters/:id': 'read',
  'POST /v1/dead-letters/:id/replay': 'write',
  'POST /v1/api-keys': 'admin',
  'GET /v1/api-keys': 'admin',
  'GET /v1/api-keys/:id': 'admin',
  'DELETE /v1/api-keys/:id': 'admin',
};

describe('every route declares who may call it', () => {
  it('sees every route the router serves and the OpenAPI document lists', async () => {
    const fastify = h.app.getHttpAdapter().getInstance();
    for (const r of routes) {
      expect({
        route: `${r.method} ${r.path}`,
        served: fastify.hasRoute({ method: r.method, url: r.path }),
      }).toEqual({
        route: `${r.method} ${r.path}`,
        served: true,
      });
    }
    const doc = await h.request<{ paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/docs/openapi.json',
      {
        apiKey: null,
      },
    );
    const walked = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const documented = Object.entries(doc.body.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThanOrEqual(Object.keys(DECIDED).length - 3);
    expect(documented.filter((route) => !walked.has(route))).toEqual([]);
  });

  it('has no route without a scope or @Public()', () => {
    expect(
      routes
        .filter((r) => r.access === null)
        .map((r) => `${r.method} ${r.path} (${r.controller}.${r.handler})`),
    ).toEqual([]);
  });

  it('gives the routes of issues 1-11 the scopes ADR 31 decided', () => {
    const actual = Object.fromEntries(routes.map((r) => [`${r.method} ${r.path}`, r.access]));
    for (const [route, scope] of Object.entries(DECIDED))
      expect({ route, scope: actual[route] }).toEqual({ route, scope });
  });

  it('keeps the probes and metrics the only public routes', () => {
    expect(routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /readyz', 'GET /metrics']),
    );
    expect(routes.filter((r) => r.access === 'public' && r.path.startsWith('/v1'))).toEqual([]);
  });

  it('states each /v1 route’s scope in the OpenAPI document (x-quarry-scope)', async () => {
    const doc = await h.request<{ paths: Record<string, Record<string, { 'x-quarry-scope'?: string }>> }>(
      'GET',
      '/docs/openapi.json',
      { apiKey: null },
    );
    for (const r of routes.filter((x) => x.path.startsWith('/v1'))) {
      const path = r.path.replace(/:(\w+)/g, '{$1}');
      const operation = doc.body.paths[path]?.[r.method.toLowerCase()];
      expect({ route: `${r.method} ${r.path}`, scope: operation?.['x-quarry-scope'] }).toEqual({
        route: `${r.method} ${r.path}`,
        scope: r.access,
      });
    }
  });
});
