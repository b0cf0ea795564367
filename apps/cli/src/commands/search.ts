import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError, EXIT } from '../exit-codes';
import { formatSearchResults, type SearchHit } from '../format';
import { positiveInt, type Act } from '../program';

export function registerSearch(program: Command, act: Act): void {
  program
    .command('search')
    .description("search the tenant's documents (hybrid by default); highlights in bold")
    .argument('<query...>', 'what to look for')
    .option('--filter <json>', 'a search filter: {"tags":[…],"metadata":{…},"filename":"*.pdf",…}')
    .option('--tag <tags>', 'only documents with every one of these tags (comma-separated)')
    .option('--mode <mode>', 'hybrid, vector or keyword')
    .option('--top-k <n>', 'how many hits', positiveInt)
    .option('--cursor <cursor>', 'the next page (nextCursor of the previous one)')
    .action(act(search));
}

interface SearchOptions {
  filter?: string;
  tag?: string;
  mode?: string;
  topK?: number;
  cursor?: string;
}

async function search(ctx: Context, words: string[], options: SearchOptions): Promise<void> {
  if (options.mode && !['hybrid', 'vector', 'keyword'].includes(options.mode)) {
    throw new CliError(`--mode ${options.mode}: hybrid, vector or keyword`, EXIT.usage);
  }
  const filter = searchFilter(options.filter, options.tag);
  const client = await ctx.client();
  const answer = await client.search<{ mode?: string; results: SearchHit[]; nextCursor?: string | null }>({
    query: words.join(' '),
    ...(options.topK ? { topK: options.topK } : {}),
    ...(options.mode ? { mode: options.mode as 'hybrid' | 'vector' | 'keyword' } : {}),
    ...(filter ? { filter } : {}),
    ...(options.cursor ? { cursor: options.cursor } : {}),
  });
  ctx.out.result(answer, (a) => formatSearchResults(ctx.out.c, a));
}

/** `--filter` as JSON, with `--tag a,b` merged into its tags. */
export function searchFilter(
  json: string | undefined,
  tags: string | undefined,
): Record<string, unknown> | undefined {
  let filter: Record<string, unknown> | undefined;
  if (json !== undefined) {
    const parsed = parseJsonOption('--filter', json);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CliError('--filter: must be a JSON object', EXIT.usage);
    }
    filter = parsed as Record<string, unknown>;
  }
  const tagList = splitList(tags);
  if (tagList.length > 0) {
    const existing = Array.isArray(filter?.['tags']) ? (filter['tags'] as unknown[]) : [];
    filter = { ...filter, tags: [...existing, ...tagList] };
  }
  return filter;
}

export function parseJsonOption(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${name}: not valid JSON`, EXIT.usage);
  }
}

export function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
