import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes';
import { formatTable } from '../format';
import type { Act } from '../program';
import { splitList } from './search';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function registerKeys(program: Command, act: Act): void {
  const keys = program.command('keys').description("the tenant's API keys (needs the admin scope)");
  keys
    .command('create')
    .description('create a key; the secret is printed this once')
    .argument('<name>')
    .option('--scopes <scopes>', 'read, write, admin (comma-separated)', 'read')
    .option('--expires-at <time>', 'ISO 8601, in the future')
    .action(
      act(async (ctx, name: string, options: { scopes: string; expiresAt?: string }) => {
        const scopes = splitList(options.scopes);
        if (scopes.length === 0) throw new CliError('--scopes: give read, write and/or admin', EXIT.usage);
        const created = await (
          await ctx.client()
        ).request<ApiKey & { key: string }>('POST', '/v1/api-keys', {
          json: { name, scopes, ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}) },
        });
        ctx.out.result(created, (k) => [
          `created key ${k.id} (${k.name}, ${k.scopes.join(',')})`,
          `key: ${ctx.out.c.bold(k.key)}`,
          ctx.out.c.dim('it is shown this once: store it now'),
        ]);
      }),
    );
  keys
    .command('list')
    .description('every key, revoked and expired ones included (never the secrets)')
    .action(
      act(async (ctx) => {
        const list = await (await ctx.client()).request<{ items: ApiKey[] }>('GET', '/v1/api-keys');
        ctx.out.result(list, (l) =>
          formatTable(
            ctx.out.c,
            l.items.map((k) => [
              k.id,
              k.name,
              k.prefix,
              k.scopes.join(','),
              k.revokedAt ? ctx.out.c.red('revoked') : 'active',
              k.lastUsedAt ?? '-',
              k.expiresAt ?? '-',
            ]),
            ['ID', 'NAME', 'PREFIX', 'SCOPES', 'STATE', 'LAST USED', 'EXPIRES'],
          ),
        );
      }),
    );
  keys
    .command('revoke')
    .description('revoke a key: every gateway refuses it within a second')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const key = await (
          await ctx.client()
        ).request<ApiKey>('DELETE', `/v1/api-keys/${encodeURIComponent(id)}`);
        ctx.out.result(key, (k) => [`revoked key ${k.id} (${k.name}) at ${k.revokedAt ?? '?'}`]);
      }),
    );
}
