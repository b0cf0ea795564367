import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes';
import { colorStatus, formatTable } from '../format';
import { positiveInt, type Act } from '../program';
import { splitList } from './search';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastResponseStatus: number | null;
  nextAttemptAt: string | null;
  createdAt: string;
}

const path = (id: string, rest = '') => `/v1/webhooks/${encodeURIComponent(id)}${rest}`;

export function registerWebhooks(program: Command, act: Act): void {
  const hooks = program
    .command('webhooks')
    .description('endpoints that receive events, their deliveries and secrets (needs the admin scope)');
  hooks
    .command('list')
    .description("the tenant's webhooks")
    .action(
      act(async (ctx) => {
        const list = await (await ctx.client()).request<{ items: Webhook[] }>('GET', '/v1/webhooks');
        const { c } = ctx.out;
        ctx.out.result(list, (l) =>
          l.items.length === 0
            ? ['no webhooks']
            : formatTable(
                c,
                l.items.map((w) => [
                  w.id,
                  w.url,
                  w.events.join(','),
                  w.enabled
                    ? c.green('enabled')
                    : c.red(`disabled${w.disabledReason ? ` (${w.disabledReason})` : ''}`),
                ]),
                ['ID', 'URL', 'EVENTS', 'STATE'],
              ),
        );
      }),
    );
  hooks
    .command('create')
    .description('register an endpoint; its signing secret is printed this once')
    .argument('<url>')
    .option('--events <patterns>', 'event patterns, comma-separated (job.*, document.failed, *)', 'job.*')
    .option('--description <text>')
    .option('--disabled', 'create it disabled')
    .action(
      act(async (ctx, url: string, options: { events: string; description?: string; disabled?: boolean }) => {
        const events = splitList(options.events);
        if (events.length === 0) throw new CliError('--events: give at least one pattern', EXIT.usage);
        const created = await (
          await ctx.client()
        ).request<Webhook & { secret: string }>('POST', '/v1/webhooks', {
          json: {
            url,
            events,
            ...(options.description ? { description: options.description } : {}),
            ...(options.disabled ? { enabled: false } : {}),
          },
        });
        ctx.out.result(created, (w) => [
          `created webhook ${w.id} → ${w.url} (${w.events.join(',')})`,
          `secret: ${ctx.out.c.bold(w.secret)}`,
          ctx.out.c.dim('it is shown this once (rotate-secret makes a new one)'),
        ]);
      }),
    );
  hooks
    .command('delete')
    .description('remove a webhook')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        await (await ctx.client()).request('DELETE', path(id));
        ctx.out.result({ id, deleted: true }, () => [`deleted webhook ${id}`]);
      }),
    );
  hooks
    .command('deliveries')
    .description("a webhook's deliveries, newest first")
    .argument('<id>')
    .option('--limit <n>', 'how many', positiveInt)
    .option('--cursor <cursor>', 'the next page')
    .action(
      act(async (ctx, id: string, options: { limit?: number; cursor?: string }) => {
        const page = await (
          await ctx.client()
        ).request<{ items: Delivery[]; nextCursor: string | null }>('GET', path(id, '/deliveries'), {
          query: options,
        });
        const { c } = ctx.out;
        ctx.out.result(page, (p) => [
          ...(p.items.length === 0
            ? ['no deliveries']
            : formatTable(
                c,
                p.items.map((d) => [
                  d.id,
                  d.eventType,
                  colorStatus(c, d.status),
                  String(d.attempts),
                  d.lastResponseStatus === null ? '-' : String(d.lastResponseStatus),
                  d.createdAt,
                ]),
                ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST HTTP', 'CREATED'],
              )),
          ...(p.nextCursor ? [c.dim(`more: --cursor ${p.nextCursor}`)] : []),
        ]);
      }),
    );
  hooks
    .command('replay')
    .description('post a delivery again, from the start of the retry schedule')
    .argument('<id>', 'the webhook')
    .argument('<deliveryId>')
    .action(
      act(async (ctx, id: string, deliveryId: string) => {
        const answer = await (
          await ctx.client()
        ).request<unknown>('POST', path(id, `/deliveries/${encodeURIComponent(deliveryId)}/replay`));
        ctx.out.result(answer ?? { id: deliveryId }, () => [`delivery ${deliveryId} is pending again`]);
      }),
    );
  hooks
    .command('rotate-secret')
    .description('a new signing secret; the old one stays valid for a while (both signatures are sent)')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const rotated = await (
          await ctx.client()
        ).request<Webhook & { secret: string; previousSecretValidUntil: string }>(
          'POST',
          path(id, '/rotate-secret'),
        );
        ctx.out.result(rotated, (w) => [
          `secret: ${ctx.out.c.bold(w.secret)}`,
          ctx.out.c.dim(`the previous secret stays valid until ${w.previousSecretValidUntil}`),
        ]);
      }),
    );
}
