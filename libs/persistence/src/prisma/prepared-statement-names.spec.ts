import { preparedStatementNames } from './create-prisma-client';

describe('preparedStatementNames', () => {
  it('names a text from its second sighting on, the same name every time', () => {
    const name = preparedStatementNames(8);
    expect(name({ sql: 'SELECT 1' })).toBe('');
    const named = name({ sql: 'SELECT 1' });
    expect(named).toMatch(/^quarry_[0-9a-f]{24}$/);
    expect(name({ sql: 'SELECT 1' })).toBe(named);
  });

  it('gives different texts different names', () => {
    const name = preparedStatementNames(8);
    for (const sql of ['SELECT 1', 'SELECT 2', 'SELECT 1', 'SELECT 2']) name({ sql });
    expect(name({ sql: 'SELECT 1' })).not.toBe(name({ sql: 'SELECT 2' }));
  });

  it('names no more than the limit; later texts stay unnamed', () => {
    const name = preparedStatementNames(2);
    for (const sql of ['a', 'a', 'b', 'b']) name({ sql });
    expect(name({ sql: 'c' })).toBe('');
    expect(name({ sql: 'c' })).toBe('');
    expect(name({ sql: 'a' })).not.toBe('');
  });
});
