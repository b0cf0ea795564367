import type { Job } from '@quarry/sdk';
import type { Command } from 'commander';
import type { Context } from '../context';
import { EXIT } from '../exit-codes';
import {
  colorStatus,
  formatJob,
  formatJobOutcome,
  formatJobRow,
  formatProgress,
  formatTable,
} from '../format';
import { documentsDisplay } from '../progress';
import { positiveInt, type Act } from '../program';

export function registerJobs(program: Command, act: Act): void {
  const jobs = program.command('jobs').description('list, show, cancel, retry and watch jobs');
  jobs
    .command('list')
    .description('jobs, newest first')
    .option('--status <status>', 'queued, running, succeeded, completed_with_failures, failed or cancelled')
    .option('--limit <n>', 'how many', positiveInt)
    .option('--cursor <cursor>', 'the next page')
    .option('--stuck', 'only active jobs with no sign of life')
    .action(
      act(async (ctx, options: { status?: string; limit?: number; cursor?: string; stuck?: boolean }) => {
        const page = await (await ctx.client()).listJobs(options);
        ctx.out.result(page, (p) => [
          ...(p.items.length === 0
            ? ['no jobs']
            : formatTable(
                ctx.out.c,
                p.items.map((job) => formatJobRow(ctx.out.c, job)),
                ['ID', 'STATUS', 'TYPE', 'DOCS', 'CREATED'],
              )),
          ...(p.nextCursor ? [ctx.out.c.dim(`more: --cursor ${p.nextCursor}`)] : []),
        ]);
      }),
    );
  jobs
    .command('show')
    .description('a job: status, progress, error, each document')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const job = await (await ctx.client()).getJob(id);
        ctx.out.result(job, (j) => formatJob(ctx.out.c, j));
      }),
    );
  jobs
    .command('cancel')
    .description('cancel a queued or running job (exit 1 when it had already ended: 409)')
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const job = await (await ctx.client()).cancelJob(id);
        ctx.out.result(job, (j) => [`job ${j.id} ${colorStatus(ctx.out.c, j.status)}`]);
      }),
    );
  jobs
    .command('retry')
    .description("retry a finished job's failed documents, as a new job")
    .argument('<id>')
    .action(
      act(async (ctx, id: string) => {
        const job = await (await ctx.client()).retryJob(id);
        ctx.out.result(job, (j) => [
          `job ${j.id} ${colorStatus(ctx.out.c, j.status)}: retries ${j.documents.length} document(s) of ${id}`,
        ]);
      }),
    );
  jobs
    .command('watch')
    .description('follow a job until it ends (bars on a terminal; --json: one event per line, then the job)')
    .argument('<id>')
    .action(act(watch));
}

/** Follows a job's events until it ends; exit 1 unless it succeeded. */
async function watch(ctx: Context, id: string): Promise<void> {
  const { out } = ctx;
  const client = await ctx.client();
  const start = await client.getJob(id);
  const display = documentsDisplay(out, start.documents);
  let lastProgress = '';
  let job: Job;
  try {
    job = await client.waitForJob(id, {
      onProgress: (p) => {
        const event = p.event;
        if (out.json) {
          out.jsonLine(event);
          return;
        }
        if (event.documentId) {
          const doc = p.documents[event.documentId];
          if (doc) display.set(event.documentId, doc.filename, doc.status);
        } else if (!out.tty || start.documents.length === 0) {
          // Job events as lines: its status, and its progress when that changed (an analysis has no documents).
          const progress = formatProgress(event.data['progress'] as Record<string, unknown> | undefined);
          const line = `job ${colorStatus(out.c, p.status)}${progress ? ` ${progress}` : ''}`;
          if (line !== lastProgress) out.line(line);
          lastProgress = line;
        }
      },
    });
  } finally {
    display.stop();
  }
  if (job.status !== 'succeeded') ctx.exitCode = EXIT.failed;
  if (out.json) out.jsonLine(job);
  else out.lines([...formatJob(out.c, job).slice(1), formatJobOutcome(out.c, job)]);
}
