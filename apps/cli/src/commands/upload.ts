import type { Job } from '@quarry/sdk';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError, EXIT } from '../exit-codes';
import { batches, expandInputs } from '../files';
import { formatDocumentLine, formatJobOutcome } from '../format';
import { documentsDisplay, followProgress } from '../progress';
import { positiveInt, type Act, type Io } from '../program';
import { parseJsonOption, splitList } from './search';

/** The gateway's default MAX_FILES_PER_UPLOAD (libs/config): more files than this go as several jobs. */
export const DEFAULT_BATCH_SIZE = 20;

export function registerUpload(program: Command, act: Act, io: Io): void {
  program
    .command('upload')
    .description('upload files, directories (recursively) and globs as one job (several past --batch-size)')
    .argument('<paths...>', 'files, directories or glob patterns ("docs/**/*.pdf")')
    .option('--wait', 'follow the job with a progress bar per file until it ends; exit 1 unless it succeeded')
    .option('--classify <labels>', 'labels to classify each document by once indexed (comma-separated)')
    .option('--metadata <json>', 'a JSON object stored on every document')
    .option('--tags <tags>', 'tags for every document (comma-separated)')
    .option('--lane <lane>', 'interactive or bulk')
    .option(
      '--batch-size <n>',
      `files per job: the gateway's MAX_FILES_PER_UPLOAD (default ${DEFAULT_BATCH_SIZE})`,
      positiveInt,
    )
    .action(act((ctx, paths: string[], options: UploadOptions) => upload(ctx, io, paths, options)));
}

interface UploadOptions {
  wait?: boolean;
  classify?: string;
  metadata?: string;
  tags?: string;
  lane?: string;
  batchSize?: number;
}

async function upload(ctx: Context, io: Io, paths: string[], options: UploadOptions): Promise<void> {
  const { out } = ctx;
  let metadata: Record<string, string | number | boolean | null> | undefined;
  if (options.metadata !== undefined) {
    const parsed = parseJsonOption('--metadata', options.metadata);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CliError('--metadata: must be a JSON object', EXIT.usage);
    }
    metadata = parsed as Record<string, string | number | boolean | null>;
  }
  if (options.lane && options.lane !== 'interactive' && options.lane !== 'bulk') {
    throw new CliError(`--lane ${options.lane}: interactive or bulk`, EXIT.usage);
  }
  const classify = splitList(options.classify);
  if (options.classify !== undefined && classify.length < 2) {
    throw new CliError('--classify: give at least two labels, separated by commas', EXIT.usage);
  }
  const tags = splitList(options.tags);
  const files = await expandInputs(paths, io.cwd);
  const client = await ctx.client();
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const groups = batches(files, size);
  if (groups.length > 1) {
    out.note(
      `${files.length} files: sending them as ${groups.length} jobs of at most ${size} (MAX_FILES_PER_UPLOAD)`,
    );
  }

  const accepted: Job[] = [];
  for (const group of groups) {
    accepted.push(
      await client.uploadFiles(group, {
        wait: false,
        ...(metadata ? { metadata } : {}),
        ...(tags.length > 0 ? { tags } : {}),
        ...(classify.length > 0 ? { classify } : {}),
        ...(options.lane ? { lane: options.lane as 'interactive' | 'bulk' } : {}),
      }),
    );
  }

  if (!options.wait) {
    out.result({ jobs: accepted }, (v) =>
      v.jobs.map(
        (job) =>
          `job ${job.id} ${job.status}: ${job.documents.length} file(s); follow it with: quarry jobs watch ${job.id}`,
      ),
    );
    return;
  }

  const display = documentsDisplay(
    out,
    accepted.flatMap((job) => job.documents),
  );
  let finished: Job[];
  try {
    finished = await Promise.all(
      accepted.map((job) => client.waitForJob(job.id, { onProgress: followProgress(display) })),
    );
  } finally {
    display.stop();
  }
  if (finished.some((job) => job.status !== 'succeeded')) ctx.exitCode = EXIT.failed;
  out.result({ jobs: finished }, (v) => [
    ...v.jobs.flatMap((job) => job.documents.map((doc) => formatDocumentLine(out.c, doc))),
    ...v.jobs.map((job) => formatJobOutcome(out.c, job)),
  ]);
}
