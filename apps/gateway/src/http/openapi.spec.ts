import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIObject } from '@nestjs/swagger';
import { OpenApiConformance } from '@quarry/test-kit';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { describeRoutes, registeredControllers } from '../auth/route-scopes';
import { offlineConfig, previewGatewayApp } from '../openapi-document';
import { createOpenApiDocument } from './openapi';

/**
 * The OpenAPI document is the contract (ADR 35): a standard validator accepts it, and every operation says what it
 * answers. A route added without its response schema, operationId or errors fails here.
 */
describe('the OpenAPI document', () => {
  let document: OpenAPIObject;
  /** `METHOD /path/{param}` of every route the gateway registers that needs an API key. */
  let registered: string[];

  beforeAll(async () => {
    const app = await previewGatewayApp();
    try {
      document = createOpenApiDocument(app, offlineConfig(), '0.0.0-test');
      registered = describeRoutes(registeredControllers(app.get(ModulesContainer)), app.get(Reflector))
        .filter((r) => r.access !== 'public')
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    } finally {
      await app.close();
    }
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      (['get', 'put', 'post', 'delete', 'patch'] as const).flatMap((method) => {
        const operation = item[method];
        return operation ? [{ path, method, operation }] : [];
      }),
    );

  it('passes a standard OpenAPI validator (@apidevtools/swagger-parser)', async () => {
    // validate() dereferences in place: hand it a copy.
    const copy = structuredClone(document) as unknown as Parameters<typeof SwaggerParser.validate>[0];
    await expect(SwaggerParser.validate(copy)).resolves.toBeDefined();
    expect(document.openapi).toBe('3.1.0');
  });

  it('describes every route of the gateway, and nothing else', () => {
    const routes = operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(registered.length).toBeGreaterThanOrEqual(31);
    expect([...routes].sort()).toEqual([...registered].sort());
    expect(routes).toContain('POST /v1/documents');
    expect(routes).toContain('GET /v1/jobs/{id}/events');
    expect(routes.filter((r) => !r.includes(' /v1/'))).toEqual([]);
  });

  it('gives every operation an operationId, a 2xx with a schema or a non-JSON media type, and its errors', () => {
    const problems: string[] = [];
    const ids = new Set<string>();
    for (const { path, method, operation } of operations()) {
      const route = `${method.toUpperCase()} ${path}`;
      const id = operation.operationId;
      // Nest's default is Controller_method: an SDK would expose that name.
      if (!id || id.includes('_')) problems.push(`${route}: no operationId of its own`);
      else if (ids.has(id)) problems.push(`${route}: operationId ${id} used twice`);
      else ids.add(id);
      if (!operation.summary) problems.push(`${route}: no summary`);
      if (!operation.tags?.length) problems.push(`${route}: no tag`);
      if (!operation.security?.length) problems.push(`${route}: no security requirement`);
      const responses = Object.entries(operation.responses) as [
        string,
        { content?: Record<string, { schema?: unknown }> },
      ][];
      const successes = responses.filter(([status]) => /^2\d\d$/.test(status));
      if (successes.length === 0) problems.push(`${route}: no 2xx response`);
      for (const [status, response] of successes) {
        if (status === '204') {
          if (response.content) problems.push(`${route}: a 204 with content`);
          continue;
        }
        const media = Object.entries(response.content ?? {});
        if (media.length === 0) problems.push(`${route}: ${status} without content`);
        for (const [type, m] of media) {
          if (type === 'application/json' && !m.schema)
            problems.push(`${route}: ${status} JSON without a schema`);
        }
      }
      for (const status of ['400', '401', '403', '429', '500', '503']) {
        if (!responses.some(([s]) => s === status)) problems.push(`${route}: no ${status}`);
      }
      if (path.includes('{') && !responses.some(([s]) => s === '404') && method !== 'post') {
        problems.push(`${route}: takes an id but lists no 404`);
      }
      for (const [status, response] of responses.filter(([s]) => /^[45]/.test(s))) {
        const schema = response.content?.['application/json']?.schema;
        if (!JSON.stringify(schema ?? null).includes('#/components/schemas/ErrorBody')) {
          problems.push(`${route}: ${status} is not an ErrorBody`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('names the operations the SDK calls', () => {
    const ids = operations().map((o) => o.operation.operationId);
    for (const id of [
      'uploadDocuments',
      'getJob',
      'listJobs',
      'cancelJob',
      'retryJob',
      'search',
      'createAnalysis',
    ]) {
      expect(ids).toContain(id);
    }
  });

  it('holds its examples to its own schemas', () => {
    const conformance = new OpenApiConformance(document);
    const problems: string[] = [];
    for (const { path, method, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses) as [
        string,
        { content?: Record<string, { example?: unknown }> },
      ][]) {
        const example = response.content?.['application/json']?.example;
        if (example === undefined) continue;
        const problem = conformance.problem({
          method,
          path: path.replace(/\{[^}]+\}/g, '0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f'),
          status: Number(status),
          contentType: 'application/json',
          body: example,
        });
        if (problem) problems.push(problem);
      }
    }
    expect(problems).toEqual([]);
  });
});
