import type { Command } from 'commander';
import type { Colors } from 'picocolors/types';
import { CliError, EXIT } from '../exit-codes';
import { formatTable } from '../format';
import type { Act } from '../program';

type Counts = Record<string, number>;
export interface UsageReport {
  from: string;
  to: string;
  groupBy: string;
  totals: Counts;
  days?: ({ day: string } & Record<string, number | string>)[];
  quotas: Record<string, { limit: number | null; used: number } | string>;
}

export function registerUsage(program: Command, act: Act): void {
  program
    .command('usage')
    .description("the tenant's usage over [from, to) (default: this month), and its monthly quotas")
    .option('--from <time>', 'ISO 8601 date or date-time, inclusive')
    .option('--to <time>', 'ISO 8601 date or date-time, exclusive')
    .option('--group-by <unit>', 'day, or none (the default)')
    .action(
      act(async (ctx, options: { from?: string; to?: string; groupBy?: string }) => {
        if (options.groupBy && options.groupBy !== 'day' && options.groupBy !== 'none') {
          throw new CliError(`--group-by ${options.groupBy}: day or none`, EXIT.usage);
        }
        const report = await (
          await ctx.client()
        ).request<UsageReport>('GET', '/v1/usage', {
          query: { from: options.from, to: options.to, groupBy: options.groupBy },
        });
        ctx.out.result(report, (r) => formatUsage(ctx.out.c, r));
      }),
    );
}

export function formatUsage(c: Colors, report: UsageReport): string[] {
  const names = Object.keys(report.totals);
  const lines = [c.bold(`usage ${report.from} → ${report.to}`)];
  lines.push(
    ...formatTable(
      c,
      names.map((n) => [`  ${n}`, String(report.totals[n])]),
    ),
  );
  if (report.days && report.days.length > 0) {
    lines.push(
      '',
      ...formatTable(
        c,
        report.days.map((d) => [d.day, ...names.map((n) => String(d[n] ?? 0))]),
        ['DAY', ...names],
      ),
    );
  }
  const quotas = Object.entries(report.quotas).filter(
    (e): e is [string, { limit: number | null; used: number }] => typeof e[1] === 'object' && e[1] !== null,
  );
  if (quotas.length > 0) {
    lines.push('', c.bold('quotas this month'));
    for (const [name, q] of quotas)
      lines.push(`  ${name}: ${q.used} of ${q.limit === null ? 'unlimited' : q.limit}`);
  }
  return lines;
}
