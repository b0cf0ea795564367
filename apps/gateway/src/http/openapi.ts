import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '@quarry/config';
import { ErrorCodes, type ErrorCode } from '@quarry/contracts';
import { z } from 'zod';
import { apiSchemas } from './response-schemas';

/**
 * The OpenAPI document is generated from the zod schemas that validate requests and type the answers (ADR 35).
 * Routes say what they answer with the decorators below; they only record metadata on the handler, and
 * `createOpenApiDocument` writes it into the operation @nestjs/swagger made for the route (found by its operationId),
 * replacing whatever the route's responses were: one source, not two.
 */

type JsonSchema = Record<string, unknown>;
/** A schema given as zod, or built from the configuration (a bound that is a setting), or as JSON Schema. */
type SchemaSource = z.ZodType | ((config: AppConfig) => z.ZodType);

interface HeaderSpec {
  description: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface ResponseSpec {
  description: string;
  /** A named schema (apiSchemas) answered as JSON; null: no body (204). */
  schema: z.ZodType | null;
  /** Instead of JSON: another media type (`text/event-stream`). */
  media?: { type: string; schema: JsonSchema; extensions?: JsonSchema };
  example?: unknown;
  headers?: Record<string, HeaderSpec>;
}

interface BodySpec {
  schema: SchemaSource;
  description?: string;
  example?: unknown;
  /** Further media types of the same body (an upload's multipart/form-data). */
  also?: Record<string, { schema: JsonSchema; encoding?: JsonSchema }>;
}

interface RouteDescription {
  responses: Map<number, ResponseSpec>;
  errors: Set<ErrorCode>;
  body?: BodySpec;
  query?: z.ZodObject;
}

const DESCRIPTION = Symbol('quarry:openapi');
/** Every handler a decorator below described, to find by operationId when the document is made. */
const described = new Set<object>();

function describe(descriptor: PropertyDescriptor | undefined, edit: (d: RouteDescription) => void): void {
  const handler = descriptor?.value as object | undefined;
  if (!handler) throw new Error('the OpenAPI decorators describe route handlers (methods)');
  let d = Reflect.getMetadata(DESCRIPTION, handler) as RouteDescription | undefined;
  if (!d) {
    d = { responses: new Map(), errors: new Set() };
    Reflect.defineMetadata(DESCRIPTION, d, handler);
    described.add(handler);
  }
  edit(d);
}

/** Headers of the answers that create something: where it is, and whether an Idempotency-Key replayed it. */
export const CREATED_HEADERS: Record<string, HeaderSpec> = {
  Location: { description: 'Where the created job (or key) is', required: true, schema: { type: 'string' } },
};
export const ACCEPTED_JOB_HEADERS: Record<string, HeaderSpec> = {
  ...CREATED_HEADERS,
  'Idempotent-Replayed': {
    description: '"true" when an Idempotency-Key found an earlier job, which this answers',
    schema: { type: 'string', enum: ['true'] },
  },
};

/** A success answer with a JSON body of a named schema (or none, `null`, for a 204). */
export function ApiZodResponse(
  status: number,
  schema: z.ZodType | null,
  options: { description: string; example?: unknown; headers?: Record<string, HeaderSpec> },
): MethodDecorator {
  return (_target, _key, descriptor) =>
    describe(descriptor, (d) => {
      d.responses.set(status, { schema, ...options });
    });
}

/** A 200 that streams Server-Sent Events, each `data:` line an event of `eventSchema`. */
export function ApiEventStream(eventSchema: z.ZodType, description: string): MethodDecorator {
  return (_target, _key, descriptor) =>
    describe(descriptor, (d) => {
      d.responses.set(200, {
        schema: null,
        description,
        media: {
          type: 'text/event-stream',
          schema: {
            type: 'string',
            description: `Server-Sent Events: \`id:\` (resume with Last-Event-ID), \`event:\` (the type) and \`data:\`, one ${
              idOf(eventSchema) ?? 'event'
            } as JSON`,
          },
          extensions: { 'x-quarry-event': { $ref: refOf(eventSchema) } },
        },
      });
    });
}

/** The JSON request body, from the zod schema the handler parses it with (as it is accepted: `io: 'input'`). */
export function ApiZodBody(schema: SchemaSource, options: Omit<BodySpec, 'schema'> = {}): MethodDecorator {
  return (_target, _key, descriptor) =>
    describe(descriptor, (d) => {
      d.body = { schema, ...options };
    });
}

/** The query parameters, from the zod object the handler parses the query with. */
export function ApiZodQuery(schema: z.ZodObject): MethodDecorator {
  return (_target, _key, descriptor) =>
    describe(descriptor, (d) => {
      d.query = schema;
    });
}

/**
 * Error codes the route may answer, each under the status its code maps to (ErrorCodes); repeatable. Every route with
 * a scope has the ones every authenticated request may meet (`RequireScope` adds them).
 */
export function ApiErrors(...codes: ErrorCode[]): MethodDecorator & ClassDecorator {
  const add = (descriptor: PropertyDescriptor | undefined) =>
    describe(descriptor, (d) => {
      for (const code of codes) d.errors.add(code);
    });
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor) return add(descriptor);
    // On a controller: every method of it (class decorators run after the methods' own).
    const prototype = (target as { prototype: object }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name);
      if (name !== 'constructor' && typeof method?.value === 'function') add(method);
    }
  };
}

/** What any authenticated route may answer whatever it does. */
export const AUTHENTICATED_ROUTE_ERRORS: readonly ErrorCode[] = [
  'validation_failed',
  'unauthorized',
  'insufficient_scope',
  'rate_limited',
  'internal',
  'dependency_unavailable',
];

const idOf = (schema: z.ZodType): string | undefined => apiSchemas.get(schema)?.id;

function refOf(schema: z.ZodType): string {
  const id = idOf(schema);
  if (!id) throw new Error('a response schema must be named in apiSchemas (response-schemas.ts)');
  return `#/components/schemas/${id}`;
}

/** A schema for the document: draft 2020-12 (OpenAPI 3.1's dialect), without its own $schema. */
function inline(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete json['$schema'];
  if ('$defs' in json) throw new Error('an inline schema must not need $defs: name the repeated part');
  return json;
}

/** `components.schemas` from the named response schemas, referring to each other by $ref. */
export function componentSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(apiSchemas, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  for (const s of Object.values(schemas)) {
    delete s['$schema'];
    delete s['$id'];
  }
  return schemas;
}

const ERROR_HEADERS: Partial<Record<number, Record<string, HeaderSpec>>> = {
  401: { 'WWW-Authenticate': { description: 'Bearer', required: true, schema: { type: 'string' } } },
  429: {
    'Retry-After': {
      description:
        'Seconds until a request may succeed (rate_limited) or until the quota resets (quota_exceeded)',
      required: true,
      schema: { type: 'integer', minimum: 1 },
    },
  },
};

function headersObject(headers: Record<string, HeaderSpec> | undefined): JsonSchema {
  if (!headers) return {};
  return {
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, h]) => [
        name,
        { description: h.description, required: h.required ?? false, schema: h.schema ?? { type: 'string' } },
      ]),
    ),
  };
}

function responsesOf(d: RouteDescription): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [status, r] of [...d.responses].sort(([a], [b]) => a - b)) {
    const content = r.media
      ? { [r.media.type]: { schema: r.media.schema, ...r.media.extensions } }
      : r.schema
        ? {
            'application/json': {
              schema: { $ref: refOf(r.schema) },
              ...(r.example === undefined ? {} : { example: r.example }),
            },
          }
        : undefined;
    out[String(status)] = {
      description: r.description,
      ...headersObject(r.headers),
      ...(content ? { content } : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of d.errors) {
    const status = ErrorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    codes.sort();
    out[String(status)] = {
      description: codes.join(', '),
      ...headersObject(ERROR_HEADERS[status]),
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/ErrorBody' },
              { type: 'object', properties: { code: { enum: codes } } },
            ],
          },
          example: { code: codes[0], message: `${codes[0]}: what went wrong, in words` },
        },
      },
    };
  }
  return out;
}

function requestBodyOf(body: BodySpec, config: AppConfig): JsonSchema {
  const schema = body.schema instanceof z.ZodType ? body.schema : body.schema(config);
  return {
    required: true,
    ...(body.description ? { description: body.description } : {}),
    content: {
      'application/json': {
        schema: inline(schema, 'input'),
        ...(body.example === undefined ? {} : { example: body.example }),
      },
      ...body.also,
    },
  };
}

function queryParameters(query: z.ZodObject): JsonSchema[] {
  const json = inline(query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: 'query',
      required: json.required?.includes(name) ?? false,
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

interface Operation {
  operationId?: string;
  parameters?: JsonSchema[];
  responses?: Record<string, JsonSchema>;
  requestBody?: JsonSchema;
}

/** The gateway's OpenAPI 3.1 document: every route, its bodies, headers, errors and examples. */
export function createOpenApiDocument(
  app: INestApplication,
  config: AppConfig,
  version: string,
): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Quarry')
    .setDescription(
      'Upload documents, follow their jobs, search what they say. Every error is `{code, message}` (plus `errorId` ' +
        'on a 5xx, and details some codes add); each operation lists the codes it may answer under their status.',
    )
    .setVersion(version)
    .addServer('/', 'The gateway serving this document')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' });
  const document = SwaggerModule.createDocument(app, builder.build());
  const byOperationId = new Map<string, RouteDescription>();
  for (const handler of described) {
    const operation = Reflect.getMetadata('swagger/apiOperation', handler) as Operation | undefined;
    const d = Reflect.getMetadata(DESCRIPTION, handler) as RouteDescription;
    if (operation?.operationId) byOperationId.set(operation.operationId, d);
  }
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method] as Operation | undefined;
      const d = operation?.operationId ? byOperationId.get(operation.operationId) : undefined;
      if (!operation) continue;
      // The path's ids (`id`, `deliveryId`) are UUIDs (parsed with Uuid: 400 validation_failed otherwise).
      for (const p of operation.parameters ?? []) {
        if (p['in'] === 'path' && /^(id|\w+Id)$/.test(String(p['name'])))
          p['schema'] = { type: 'string', format: 'uuid' };
      }
      if (!d) continue;
      operation.responses = responsesOf(d);
      if (d.body) operation.requestBody = requestBodyOf(d.body, config);
      if (d.query) {
        const names = new Set(Object.keys(d.query.shape));
        operation.parameters = [
          ...(operation.parameters ?? []).filter(
            (p) => !(p['in'] === 'query' && names.has(p['name'] as string)),
          ),
          ...queryParameters(d.query),
        ];
      }
    }
  }
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...componentSchemas() },
  };
  return document;
}
