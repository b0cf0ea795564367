import { mergeMetadata, parseClassifyField, parseTagsField } from './document-labels';

describe('mergeMetadata (RFC 7396)', () => {
  it('removes keys set to null, merges objects into objects, replaces anything else', () => {
    expect(
      mergeMetadata(
        { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'keep' },
        { a: null, b: { c: null, x: 1 }, e: [3], g: { h: null } },
      ),
    ).toEqual({ b: { d: 3, x: 1 }, e: [3], f: 'keep', g: {} });
  });

  it('replaces a scalar with an object and an object with a scalar', () => {
    expect(mergeMetadata({ a: 1, b: { c: 1 } }, { a: { x: 1 }, b: 2 })).toEqual({ a: { x: 1 }, b: 2 });
  });
});

describe('parseTagsField', () => {
  it('reads a JSON array or comma-separated tags, trimmed and each once', () => {
    expect(parseTagsField('["a", " b ", "a"]')).toEqual(['a', 'b']);
    expect(parseTagsField('a, b ,,a')).toEqual(['a', 'b']);
    expect(parseTagsField('')).toEqual([]);
  });
});

describe('parseClassifyField', () => {
  it('reads an object, an array of labels, or names separated by commas', () => {
    expect(
      parseClassifyField('{"labels":[{"name":"a"},{"name":"b","description":"bee"}],"multiLabel":true}'),
    ).toEqual({
      labels: [{ name: 'a' }, { name: 'b', description: 'bee' }],
      multiLabel: true,
    });
    expect(parseClassifyField('[{"name":"a"},{"name":"b"}]')).toEqual({
      labels: [{ name: 'a' }, { name: 'b' }],
      multiLabel: false,
    });
    expect(parseClassifyField(' invoice, recipe ,')).toEqual({
      labels: [{ name: 'invoice' }, { name: 'recipe' }],
      multiLabel: false,
    });
  });

  it('refuses one label, repeated names and JSON that is not', () => {
    for (const raw of ['invoice', 'a,a', '{"labels":', '[1,2]'])
      expect(() => parseClassifyField(raw)).toThrow(
        expect.objectContaining({ code: 'validation_failed' }) as Error,
      );
  });
});
