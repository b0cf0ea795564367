import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** A client's schema (extract) is at most this large as JSON: it is compiled to code and sent with every call. */
export const MAX_JSON_SCHEMA_BYTES = 32 * 1024;

// `strict: false` accepts keywords Ajv does not know (`title`, vendor extensions) the way model providers do; the
// meta-schema still rejects malformed ones. Each client schema is compiled by an instance of its own, so two
// clients' schemas never collide on an `$id`; the compiled ones are kept by their JSON, the oldest dropped first.
const newAjv = (): Ajv => {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  return ajv;
};
const metaValidator = newAjv();
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 256;

/**
 * Why a JSON Schema cannot be used as an output schema, or undefined when it can: it must be a valid schema
 * (draft-07 as Ajv reads it), compile (every `$ref` resolves), fit {@link MAX_JSON_SCHEMA_BYTES} and describe an
 * object, which is what structured outputs return.
 */
export function jsonSchemaProblem(schema: Record<string, unknown>): string | undefined {
  const json = JSON.stringify(schema);
  if (Buffer.byteLength(json) > MAX_JSON_SCHEMA_BYTES)
    return `at most ${MAX_JSON_SCHEMA_BYTES} bytes as JSON`;
  if (schema['type'] !== 'object') return 'must describe an object (type: "object")';
  if (!metaValidator.validateSchema(schema)) {
    return `not a valid JSON Schema: ${metaValidator.errorsText(metaValidator.errors)}`;
  }
  try {
    validatorFor(schema, json);
  } catch (error) {
    return `does not compile: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

/** Whether a value is valid against a schema that passed {@link jsonSchemaProblem}; the problems when not. */
export function validateAgainst(schema: Record<string, unknown>, value: unknown): string | undefined {
  const validate = validatorFor(schema, JSON.stringify(schema));
  return validate(value) ? undefined : metaValidator.errorsText(validate.errors, { dataVar: 'output' });
}

function validatorFor(schema: Record<string, unknown>, json: string): ValidateFunction {
  let validate = compiled.get(json);
  if (!validate) {
    validate = newAjv().compile(schema);
    const oldest = compiled.size >= MAX_CACHED ? compiled.keys().next().value : undefined;
    if (oldest !== undefined) compiled.delete(oldest);
    compiled.set(json, validate);
  }
  return validate;
}
