import { z } from 'zod';
import { uuidFromName, uuidv7 } from './ids';

describe('uuidv7', () => {
  it('makes valid version 7 UUIDs', () => {
    const id = uuidv7();
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
  });

  it('sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('uuidFromName', () => {
  it('is stable per name, distinct across names, and a valid version 8 UUID', () => {
    const a = uuidFromName('parent:0');
    expect(uuidFromName('parent:0')).toBe(a);
    expect(uuidFromName('parent:1')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(z.uuid().safeParse(a).success).toBe(true);
  });
});
