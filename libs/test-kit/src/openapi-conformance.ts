import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** A response as a test received it. */
export interface ObservedResponse {
  method: string;
  /** The request's path, with or without its query string. */
  path: string;
  status: number;
  contentType?: string | undefined;
  /** The parsed JSON body (undefined when there was none). */
  body: unknown;
  /** Left out (an example in the document), the headers are not checked. */
  headers?: Record<string, string | string[] | number | undefined> | Headers;
}

interface MediaType {
  schema?: unknown;
}
interface Response {
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean }>;
}
interface Operation {
  operationId?: string;
  responses?: Record<string, Response>;
}
interface Document {
  paths?: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const DOCUMENT_ID = 'quarry:openapi';

/** JSON Pointer escaping of one token (RFC 6901). */
const pointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Holds real responses to an OpenAPI 3.1 document (ADR 35): the status must be one the operation lists, a JSON body
 * must be valid against that response's schema (JSON Schema 2020-12, with Ajv), another media type must be the one
 * documented, and the headers it marks required must be there. A path the document does not know is not its
 * business unless it is under /v1/ and answered something other than 404 (a route nobody described).
 */
export class OpenApiConformance {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: { template: string; pattern: RegExp; params: number }[];
  /** `<operationId> <status>` pairs seen conforming. */
  readonly seen = new Set<string>();

  constructor(private readonly document: object) {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    this.routes = Object.keys((document as Document).paths ?? {})
      .map((template) => ({
        template,
        pattern: new RegExp(
          `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`,
        ),
        params: (template.match(/\{/g) ?? []).length,
      }))
      // A literal segment wins over a parameter.
      .sort((a, b) => a.params - b.params);
  }

  /** Throws when the response breaks the document. */
  assert(response: ObservedResponse): void {
    const problem = this.problem(response);
    if (problem) throw new Error(`response does not conform to the OpenAPI document: ${problem}`);
  }

  /** What is wrong with a response, or undefined. */
  problem(r: ObservedResponse): string | undefined {
    const path = (r.path.split('?')[0] ?? '').replace(/\/+$/, '') || '/';
    const method = r.method.toLowerCase();
    const what = `${r.method.toUpperCase()} ${r.path} → ${r.status}`;
    if (!METHODS.includes(method)) return undefined;
    const route = this.routes.find((x) => x.pattern.test(path));
    const operation = route ? (this.document as Document).paths?.[route.template]?.[method] : undefined;
    if (!route || !operation) {
      // Nest's own 404 for a route that does not exist; anything else under /v1/ is a route nobody described.
      return path.startsWith('/v1/') && r.status !== 404
        ? `${what}: no operation in the document`
        : undefined;
    }
    const status = String(r.status);
    const responses = operation.responses ?? {};
    const response = responses[status] ?? responses['default'];
    const key = responses[status] ? status : 'default';
    if (!response) {
      return `${what}: ${operation.operationId ?? route.template} does not list ${status} (it lists ${Object.keys(responses).join(', ')})`;
    }
    const missing = Object.entries(response.headers ?? {})
      .filter(([, h]) => h.required)
      .map(([name]) => name)
      .filter((name) => r.headers !== undefined && headerOf(r.headers, name) === undefined);
    if (missing.length > 0) return `${what}: without its header ${missing.join(', ')}`;
    const media = Object.keys(response.content ?? {});
    const type = (r.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (media.length === 0) {
      return r.body === undefined || r.body === null
        ? this.ok(operation, status)
        : `${what}: a body where none is documented`;
    }
    if (!media.includes('application/json')) {
      return media.includes(type)
        ? this.ok(operation, status)
        : `${what}: ${type || 'no content type'}, not ${media.join(' or ')}`;
    }
    if (type !== 'application/json') return `${what}: ${type || 'no content type'}, not application/json`;
    const validate = this.validator(route.template, method, key);
    if (!validate(r.body)) {
      const errors = (validate.errors ?? [])
        .slice(0, 8)
        .map(
          (e) =>
            `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
        );
      return `${what}: body does not match its schema: ${errors.join('; ')}\nbody: ${JSON.stringify(r.body).slice(0, 2000)}`;
    }
    return this.ok(operation, status);
  }

  private ok(operation: Operation, status: string): undefined {
    if (operation.operationId) this.seen.add(`${operation.operationId} ${status}`);
    return undefined;
  }

  private validator(template: string, method: string, status: string): ValidateFunction {
    const ref = `${DOCUMENT_ID}#/paths/${pointer(template)}/${method}/responses/${status}/content/${pointer('application/json')}/schema`;
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate;
  }
}

function headerOf(headers: ObservedResponse['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | number | undefined>)) {
    if (k.toLowerCase() === lower && v !== undefined) return Array.isArray(v) ? v.join(', ') : String(v);
  }
  return undefined;
}
