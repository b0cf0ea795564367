import { ALL_API_KEY_SCOPES, mintApiKey, parseScopeList, type ApiKeyScope } from '@quarry/contracts';
import {
  ApiKeysRepository,
  TenantsRepository,
  type ApiKeyView,
  type PrismaClient,
} from '@quarry/persistence';

export const TENANT_USAGE = 'tenant create <name>';
export const API_KEY_USAGE = [
  'api-key <tenant> <key>',
  'api-key create <tenant> [--scopes read,write,admin] [--name <name>] [--expires <ISO 8601>]',
  'api-key list <tenant>',
  'api-key revoke <tenant> <key id | prefix>',
].join(' | ');

/** What an `api-key` command line asks for; `<tenant>` is a tenant's name or id. */
export type ApiKeyCommand =
  /** The form scripts use: the tenant (made if missing) holds this key, with every scope. */
  | { kind: 'ensure'; tenant: string; key: string }
  | { kind: 'create'; tenant: string; name: string; scopes: ApiKeyScope[]; expiresAt: Date | null }
  | { kind: 'list'; tenant: string }
  | { kind: 'revoke'; tenant: string; key: string };

const SUBCOMMANDS = new Set(['create', 'list', 'revoke']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--name x` and `--name=x` alike; anything else starting with `--` is a mistake worth stopping for. */
function splitFlags(args: readonly string[], known: readonly string[]) {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!known.includes(flag)) throw new UsageError(`unknown option --${flag}`);
    const value = inline ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`--${flag} needs a value`);
    flags.set(flag, value);
  }
  return { positional, flags };
}

/**
 * Reads `api-key …`. The first word picks a subcommand; any other first word is the tenant of the original form,
 * which keeps meaning what it always did (a tenant literally named create, list or revoke needs its id instead).
 */
export function parseApiKeyArgs(args: readonly string[], now = new Date()): ApiKeyCommand {
  const [first, ...rest] = args;
  if (first === undefined || !SUBCOMMANDS.has(first)) {
    const [tenant, key, ...extra] = args;
    if (!tenant || !key || extra.length > 0) throw new UsageError(`usage: ${API_KEY_USAGE}`);
    if (key.length < 16) throw new UsageError('the key must be at least 16 characters');
    return { kind: 'ensure', tenant, key };
  }
  const { positional, flags } = splitFlags(rest, first === 'create' ? ['scopes', 'name', 'expires'] : []);
  const want = first === 'revoke' ? 2 : 1;
  if (positional.length !== want) throw new UsageError(`usage: ${API_KEY_USAGE}`);
  const tenant = positional[0]!;
  if (first === 'list') return { kind: 'list', tenant };
  if (first === 'revoke') return { kind: 'revoke', tenant, key: positional[1]! };
  const scopesText = flags.get('scopes');
  let scopes: ApiKeyScope[] = [...ALL_API_KEY_SCOPES];
  if (scopesText !== undefined) {
    try {
      scopes = parseScopeList(scopesText);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const expiresText = flags.get('expires');
  const expiresAt = expiresText === undefined ? null : new Date(expiresText);
  if (expiresAt && Number.isNaN(expiresAt.getTime())) {
    throw new UsageError(`--expires must be a date and time (ISO 8601), not "${expiresText}"`);
  }
  if (expiresAt && expiresAt.getTime() <= now.getTime())
    throw new UsageError('--expires must be in the future');
  const name = (flags.get('name') ?? 'ops').trim();
  if (name === '' || name.length > 100) throw new UsageError('--name must be 1 to 100 characters');
  return { kind: 'create', tenant, name, scopes, expiresAt };
}

export function parseTenantArgs(args: readonly string[]): { kind: 'create'; name: string } {
  const [sub, name, ...extra] = args;
  if (sub !== 'create' || !name?.trim() || extra.length > 0) throw new UsageError(`usage: ${TENANT_USAGE}`);
  return { kind: 'create', name: name.trim() };
}

/** A key list as a terminal table: one key a line, columns padded, `-` for none. */
export function formatKeyTable(keys: readonly ApiKeyView[], now = new Date()): string {
  const when = (d: Date | null) => d?.toISOString() ?? '-';
  const status = (k: ApiKeyView) =>
    k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= now ? 'expired' : 'active';
  const rows = [
    ['ID', 'PREFIX', 'NAME', 'SCOPES', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
    ...keys.map((k) => [
      k.id,
      k.prefix,
      k.name,
      k.scopes.join(','),
      status(k),
      when(k.createdAt),
      when(k.expiresAt),
      when(k.lastUsedAt),
      when(k.revokedAt),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function resolveTenant(
  tenants: TenantsRepository,
  prisma: PrismaClient,
  tenant: string,
): Promise<string> {
  const byName = await tenants.findByName(tenant);
  if (byName) return byName.tenantId;
  if (UUID.test(tenant)) {
    const byId = await prisma.tenant.findUnique({ where: { id: tenant }, select: { id: true } });
    if (byId) return byId.id;
  }
  throw new Error(`no tenant named "${tenant}" (create one with: ops ${TENANT_USAGE})`);
}

/** Runs `tenant …`; prints the new tenant's id. */
export async function runTenantCommand(
  prisma: PrismaClient,
  args: readonly string[],
  print: (line: string) => void,
): Promise<void> {
  const { name } = parseTenantArgs(args);
  const created = await new TenantsRepository(prisma).create(name);
  if (!created) {
    const existing = await new TenantsRepository(prisma).findByName(name);
    throw new Error(`tenant "${name}" already exists: ${existing?.tenantId ?? '?'}`);
  }
  print(created.tenantId);
}

/**
 * Runs `api-key …`. `create` prints the key alone on its line (`KEY=$(ops api-key create …)` takes it); it is shown
 * this once and only its hash is stored.
 */
export async function runApiKeyCommand(
  prisma: PrismaClient,
  args: readonly string[],
  print: (line: string) => void,
): Promise<{ kind: ApiKeyCommand['kind']; tenantId: string }> {
  const command = parseApiKeyArgs(args);
  const tenants = new TenantsRepository(prisma);
  if (command.kind === 'ensure') {
    return { kind: 'ensure', ...(await tenants.ensureTenantWithKey(command.tenant, command.key)) };
  }
  const keys = new ApiKeysRepository(prisma);
  const tenantId = await resolveTenant(tenants, prisma, command.tenant);
  switch (command.kind) {
    case 'create': {
      const { key, prefix } = mintApiKey();
      await keys.create({
        tenantId,
        name: command.name,
        key,
        prefix,
        scopes: command.scopes,
        expiresAt: command.expiresAt,
      });
      print(key);
      break;
    }
    case 'list':
      print(formatKeyTable(await keys.list(tenantId)));
      break;
    case 'revoke': {
      const matches = UUID.test(command.key)
        ? [await keys.get(tenantId, command.key)].filter((k) => k !== null)
        : await keys.findByPrefix(tenantId, command.key);
      if (matches.length === 0) throw new Error(`tenant "${command.tenant}" has no key ${command.key}`);
      if (matches.length > 1) {
        throw new Error(
          `prefix ${command.key} matches ${matches.length} keys (${matches.map((k) => k.id).join(', ')}): give the id`,
        );
      }
      const revoked = await keys.revoke(tenantId, matches[0]!.id);
      print(`revoked ${revoked!.id} (${revoked!.prefix}) at ${revoked!.revokedAt!.toISOString()}`);
      break;
    }
  }
  return { kind: command.kind, tenantId };
}
