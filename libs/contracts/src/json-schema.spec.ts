import { AnalysisRequest } from './analyses';
import { jsonSchemaProblem, MAX_JSON_SCHEMA_BYTES, validateAgainst } from './json-schema';

const invoice = {
  type: 'object',
  properties: {
    number: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    due: { type: 'string', format: 'date' },
  },
  required: ['number', 'total'],
};

describe('client JSON Schemas (extract)', () => {
  it('accepts an object schema and validates outputs against it, formats included', () => {
    expect(jsonSchemaProblem(invoice)).toBeUndefined();
    expect(validateAgainst(invoice, { number: 'INV-1', total: 12.5, due: '2026-12-31' })).toBeUndefined();
    expect(validateAgainst(invoice, { number: 'INV-1' })).toMatch(/must have required property 'total'/);
    expect(validateAgainst(invoice, { number: 'INV-1', total: 1, due: 'tomorrow' })).toMatch(/format "date"/);
  });

  it('says why a schema cannot be used', () => {
    expect(jsonSchemaProblem({ type: 'array' })).toMatch(/must describe an object/);
    expect(jsonSchemaProblem({ type: 'object', properties: { a: { type: 'strin' } } })).toMatch(
      /not a valid JSON Schema/,
    );
    expect(jsonSchemaProblem({ type: 'object', properties: { a: { $ref: '#/$defs/missing' } } })).toMatch(
      /does not compile/,
    );
    const huge = { type: 'object', description: 'x'.repeat(MAX_JSON_SCHEMA_BYTES) };
    expect(jsonSchemaProblem(huge)).toMatch(/at most/);
  });

  it('lets two schemas share an $id without colliding', () => {
    const a = { $id: 'https://example.com/s', type: 'object', required: ['a'] };
    const b = { $id: 'https://example.com/s', type: 'object', required: ['b'] };
    expect(jsonSchemaProblem(a)).toBeUndefined();
    expect(jsonSchemaProblem(b)).toBeUndefined();
    expect(validateAgainst(b, { b: 1 })).toBeUndefined();
  });

  it('is checked where the request is parsed, so a bad schema is a 400', () => {
    const parsed = AnalysisRequest.safeParse({
      type: 'extract',
      schema: { type: 'object', properties: { a: { type: 7 } } },
      documentIds: ['0193a3b0-0000-7000-8000-000000000001'],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['schema']);
  });
});
