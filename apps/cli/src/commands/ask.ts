import type { Job } from '@quarry/sdk';
import type { Command } from 'commander';
import type { Context } from '../context';
import { EXIT } from '../exit-codes';
import { formatAnswer, formatProgress, type Citation } from '../format';
import type { Act } from '../program';
import { searchFilter } from './search';

export function registerAsk(program: Command, act: Act): void {
  program
    .command('ask')
    .description(
      'answer a question from the documents (an `answer` analysis) with citations; progress on stderr ' +
        '(--json: one event per line, then the analysis job)',
    )
    .argument('<question...>')
    .option('--filter <json>', 'which documents to read: a search filter')
    .option('--tag <tags>', 'only documents with every one of these tags (comma-separated)')
    .action(act(ask));
}

interface AnswerResult {
  answer: string | null;
  method?: string;
  citations: Citation[];
}

async function ask(ctx: Context, words: string[], options: { filter?: string; tag?: string }): Promise<void> {
  const { out } = ctx;
  const filter = searchFilter(options.filter, options.tag);
  const client = await ctx.client();
  const accepted = await client.request<Job>('POST', '/v1/analyses', {
    json: { type: 'answer', question: words.join(' '), ...(filter ? { filter } : {}) },
  });
  const status = new StatusLine(out.stderr, out.json);
  try {
    await client.waitForJob(accepted.id, {
      onProgress: (p) => {
        if (out.json) out.jsonLine(p.event);
        else status.show(`${p.status}${progressOf(p.event.data)}`);
      },
    });
  } finally {
    status.done();
  }
  const job = await client.request<Job & { result?: AnswerResult }>(
    'GET',
    `/v1/analyses/${encodeURIComponent(accepted.id)}`,
  );
  if (job.status !== 'succeeded') ctx.exitCode = EXIT.failed;
  if (out.json) {
    out.jsonLine(job);
    return;
  }
  if (job.status !== 'succeeded' || !job.result) {
    out.line(
      out.c.red(
        `analysis ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ''}`,
      ),
    );
    return;
  }
  out.lines(formatAnswer(out.c, job.result));
}

function progressOf(data: Record<string, unknown>): string {
  const text = formatProgress(data['progress'] as Record<string, unknown> | undefined);
  return text ? ` ${text}` : '';
}

/** One line redrawn in place on a terminal; a line per change otherwise. */
class StatusLine {
  private last = '';
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly silent: boolean,
  ) {}

  show(text: string): void {
    if (this.silent || text === this.last) return;
    this.last = text;
    if (this.stream.isTTY) {
      this.stream.write(`\r\u001b[2K… ${text}`);
      this.drawn = true;
    } else this.stream.write(`${text}\n`);
  }

  done(): void {
    if (this.drawn) this.stream.write('\r\u001b[2K');
  }
}
