import { ALL_API_KEY_SCOPES, ApiKeyScopes, MINTED_API_KEY, mintApiKey, parseScopeList } from './api-keys';

describe('API key scopes', () => {
  it('are read, write and admin, in that order', () => {
    expect(ALL_API_KEY_SCOPES).toEqual(['read', 'write', 'admin']);
  });

  it('are stored in canonical order without repeats, whatever order they come in', () => {
    expect(ApiKeyScopes.parse(['admin', 'read', 'admin'])).toEqual(['read', 'admin']);
  });

  it('refuse an empty set and unknown names', () => {
    expect(ApiKeyScopes.safeParse([]).success).toBe(false);
    expect(ApiKeyScopes.safeParse(['read', 'root']).success).toBe(false);
  });

  it('read from a comma-separated list, spaces and empty items ignored', () => {
    expect(parseScopeList('write, read,')).toEqual(['read', 'write']);
    expect(() => parseScopeList('read,delete')).toThrow('read, write, admin');
    expect(() => parseScopeList(' , ')).toThrow('comma-separated');
  });
});

describe('mintApiKey', () => {
  it('makes qk_<prefix>_<secret> with the prefix at its start', () => {
    const { key, prefix } = mintApiKey();
    expect(key).toMatch(MINTED_API_KEY);
    expect(prefix).toMatch(/^qk_[0-9a-f]{8}$/);
    expect(key.startsWith(`${prefix}_`)).toBe(true);
  });

  it('draws the prefix and 160 secret bits from the random source', () => {
    const bytes: number[] = [];
    const random = (n: number) => {
      bytes.push(n);
      return Buffer.alloc(n, 0xab);
    };
    expect(mintApiKey(random)).toEqual({ key: `qk_abababab_${'ab'.repeat(20)}`, prefix: 'qk_abababab' });
    expect(bytes).toEqual([4, 20]);
  });

  it('never makes the same key twice in a thousand draws', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => mintApiKey().key));
    expect(keys.size).toBe(1000);
  });
});
