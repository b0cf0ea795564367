import type { Job } from '@quarry/sdk';
import type { Command } from 'commander';
import { formatTable } from '../format';
import { positiveInt, type Act } from '../program';

interface DeadLetter {
  id: string;
  command: string;
  code: string | null;
  reason: string;
  jobId: string | null;
  deliveryCount: number;
  createdAt: string;
  replayCount: number;
}

export function registerDeadLetters(program: Command, act: Act): void {
  const dl = program.command('dead-letters').description('messages that could not be processed; replay one');
  dl.command('list')
    .description('dead letters, newest first')
    .option('--job-id <id>', 'only this job’s')
    .option('--limit <n>', 'how many', positiveInt)
    .option('--cursor <cursor>', 'the next page')
    .action(
      act(async (ctx, options: { jobId?: string; limit?: number; cursor?: string }) => {
        const page = await (
          await ctx.client()
        ).request<{ items: DeadLetter[]; nextCursor: string | null }>('GET', '/v1/dead-letters', {
          query: options,
        });
        const { c } = ctx.out;
        ctx.out.result(page, (p) => [
          ...(p.items.length === 0
            ? ['no dead letters']
            : formatTable(
                c,
                p.items.map((d) => [
                  d.id,
                  d.command,
                  d.code ?? '-',
                  String(d.deliveryCount),
                  d.jobId ?? '-',
                  d.createdAt,
                  d.reason,
                ]),
                ['ID', 'COMMAND', 'CODE', 'DELIVERIES', 'JOB', 'CREATED', 'REASON'],
              )),
          ...(p.nextCursor ? [c.dim(`more: --cursor ${p.nextCursor}`)] : []),
        ]);
      }),
    );
  dl.command('replay')
    .description('send a dead letter’s message again, as a new job')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const job = await (
          await ctx.client()
        ).request<Job>('POST', `/v1/dead-letters/${encodeURIComponent(id)}/replay`);
        ctx.out.result(job, (j) => [
          `replayed as job ${j.id} (${j.status}); follow it with: quarry jobs watch ${j.id}`,
        ]);
      }),
    );
}
