import type { ApiKeyView } from '@quarry/persistence';
import { formatKeyTable, parseApiKeyArgs, parseTenantArgs } from './tenant-commands';

const NOW = new Date('2026-12-08T10:00:00Z');

describe('parseApiKeyArgs', () => {
  it('keeps `api-key <tenant> <key>` as it always was: that tenant holds that key', () => {
    expect(parseApiKeyArgs(['acme', 'k'.repeat(16)])).toEqual({
      kind: 'ensure',
      tenant: 'acme',
      key: 'k'.repeat(16),
    });
    expect(() => parseApiKeyArgs(['acme', 'short'])).toThrow('at least 16 characters');
    expect(() => parseApiKeyArgs(['acme'])).toThrow('usage');
    expect(() => parseApiKeyArgs([])).toThrow('usage');
  });

  it('reads create with every scope, the name "ops" and no expiry by default', () => {
    expect(parseApiKeyArgs(['create', 'acme'], NOW)).toEqual({
      kind: 'create',
      tenant: 'acme',
      name: 'ops',
      scopes: ['read', 'write', 'admin'],
      expiresAt: null,
    });
  });

  it('reads create with scopes, a name and an expiry, as separate or inline values', () => {
    expect(
      parseApiKeyArgs(
        [
          'create',
          'acme',
          '--scopes',
          'write,read',
          '--name=ci uploads',
          '--expires',
          '2027-01-01T00:00:00Z',
        ],
        NOW,
      ),
    ).toEqual({
      kind: 'create',
      tenant: 'acme',
      name: 'ci uploads',
      scopes: ['read', 'write'],
      expiresAt: new Date('2027-01-01T00:00:00Z'),
    });
  });

  it.each([
    [['create', 'acme', '--scopes', 'read,root'], 'read, write, admin'],
    [['create', 'acme', '--scopes'], '--scopes needs a value'],
    [['create', 'acme', '--expires', 'soon'], 'ISO 8601'],
    [['create', 'acme', '--expires', '2026-12-08T09:59:59Z'], 'in the future'],
    [['create', 'acme', '--colour', 'red'], 'unknown option --colour'],
    [['create'], 'usage'],
    [['create', 'acme', 'extra'], 'usage'],
    [['list'], 'usage'],
    [['list', 'acme', '--scopes', 'read'], 'unknown option --scopes'],
    [['revoke', 'acme'], 'usage'],
  ])('refuses %j (%s)', (args, message) => {
    expect(() => parseApiKeyArgs(args, NOW)).toThrow(message);
  });

  it('reads list and revoke', () => {
    expect(parseApiKeyArgs(['list', 'acme'])).toEqual({ kind: 'list', tenant: 'acme' });
    expect(parseApiKeyArgs(['revoke', 'acme', 'qk_0a1b2c3d'])).toEqual({
      kind: 'revoke',
      tenant: 'acme',
      key: 'qk_0a1b2c3d',
    });
  });
});

describe('parseTenantArgs', () => {
  it('reads `tenant create <name>` and nothing else', () => {
    expect(parseTenantArgs(['create', ' acme '])).toEqual({ kind: 'create', name: 'acme' });
    expect(() => parseTenantArgs(['create'])).toThrow('usage');
    expect(() => parseTenantArgs(['delete', 'acme'])).toThrow('usage');
  });
});

describe('formatKeyTable', () => {
  const key = (over: Partial<ApiKeyView>): ApiKeyView => ({
    id: '0193a000-0000-7000-8000-000000000001',
    tenantId: 't',
    name: 'ci',
    prefix: 'qk_0a1b2c3d',
    scopes: ['read', 'write'],
    createdAt: new Date('2026-12-01T00:00:00Z'),
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    ...over,
  });

  it('prints a header and one aligned line a key, saying whether it is active, expired or revoked', () => {
    const table = formatKeyTable(
      [
        key({}),
        key({ name: 'old', expiresAt: new Date('2026-12-02T00:00:00Z') }),
        key({ name: 'gone', revokedAt: new Date('2026-12-03T00:00:00Z') }),
      ],
      NOW,
    ).split('\n');
    expect(table).toHaveLength(4);
    expect(table[0]).toMatch(
      /^ID\s+PREFIX\s+NAME\s+SCOPES\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED\s+REVOKED$/,
    );
    expect(table[1]).toContain('read,write  active');
    expect(table[2]).toContain('expired');
    expect(table[3]).toContain('revoked');
    // Columns line up: every line has its PREFIX where the header has it.
    const at = table[0]!.indexOf('PREFIX');
    for (const line of table.slice(1)) expect(line.indexOf('qk_0a1b2c3d')).toBe(at);
  });
});
