import type { Job, JobDocument } from '@quarry/sdk';
import type { Colors } from 'picocolors/types';

/** Pure formatting of what the API answers, for people. Colors come in (`createColors(false)` for none). */

const GOOD = new Set(['succeeded', 'indexed', 'delivered', 'active']);
const BAD = new Set(['failed', 'completed_with_failures', 'cancelled', 'revoked', 'disabled']);

export function colorStatus(c: Colors, status: string): string {
  if (GOOD.has(status)) return c.green(status);
  if (BAD.has(status)) return c.red(status);
  return c.yellow(status);
}

/** How far along a document is, for its bar: queued → extracting → extracted → indexing → indexed (or failed). */
export function documentPercent(status: string): number {
  switch (status) {
    case 'queued':
      return 0;
    case 'extracting':
      return 25;
    case 'extracted':
      return 50;
    case 'indexing':
      return 75;
    default:
      return 100; // indexed, failed, cancelled
  }
}

export function isFinishedDocument(status: string): boolean {
  return status === 'indexed' || status === 'failed' || status === 'cancelled';
}

/** A document's final line: status, filename, and the error's code and message when it failed. */
export function formatDocumentLine(
  c: Colors,
  doc: Pick<JobDocument, 'filename' | 'status' | 'error'>,
): string {
  const status = colorStatus(c, doc.status.padEnd(9));
  const error = doc.error ? `  ${c.red(doc.error.code)}: ${doc.error.message}` : '';
  return `${status}  ${doc.filename ?? '(unnamed)'}${error}`;
}

/** The line after an upload's documents: the job and how it ended. */
export function formatJobOutcome(c: Colors, job: Job): string {
  const indexed = job.documents.filter((d) => d.status === 'indexed').length;
  const failed = job.documents.filter((d) => d.status === 'failed').length;
  const error = job.error ? ` (${job.error.code}: ${job.error.message})` : '';
  return `job ${job.id} ${colorStatus(c, job.status)}: ${indexed} indexed, ${failed} failed${error}`;
}

/** `quarry jobs show`: the job, its progress and error, each document. */
export function formatJob(c: Colors, job: Job): string[] {
  const lines = [`${c.bold('job')} ${job.id}  ${colorStatus(c, job.status)}  ${job.type}  lane ${job.lane}`];
  const created = typeof job['createdAt'] === 'string' ? job['createdAt'] : undefined;
  const finished = typeof job['finishedAt'] === 'string' ? job['finishedAt'] : undefined;
  if (created) lines.push(`  created   ${created}${finished ? `  finished ${finished}` : ''}`);
  const progress = formatProgress(job.progress);
  if (progress) lines.push(`  progress  ${progress}`);
  if (typeof job['waiting'] === 'string') lines.push(`  waiting   ${job['waiting']}`);
  if (job.error) lines.push(`  error     ${c.red(job.error.code)}: ${job.error.message}`);
  if (typeof job['retryOfJobId'] === 'string') lines.push(`  retry of  ${job['retryOfJobId']}`);
  for (const doc of job.documents) lines.push(`  ${formatDocumentLine(c, doc)}`);
  return lines;
}

/** `{step, done, total}` as `indexing 3/10`; empty when there is nothing to say. */
export function formatProgress(progress: Record<string, unknown> | null | undefined): string {
  if (!progress) return '';
  const step = typeof progress['step'] === 'string' ? progress['step'] : '';
  const done = progress['done'];
  const total = progress['total'];
  const count = typeof done === 'number' && typeof total === 'number' ? `${done}/${total}` : '';
  return [step, count].filter((s) => s !== '').join(' ');
}

/** Rows padded into columns (no trailing spaces); the first row is a header when `header` is set. */
export function formatTable(
  c: Colors,
  rows: readonly (readonly string[])[],
  header?: readonly string[],
): string[] {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const row of all)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return all.map((row, r) => {
    const line = row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join('  ')
      .trimEnd();
    return header && r === 0 ? c.dim(line) : line;
  });
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

export function formatJobRow(c: Colors, job: Job): string[] {
  const created = typeof job['createdAt'] === 'string' ? job['createdAt'] : '';
  const docs = Array.isArray(job.documents) ? String(job.documents.length) : '';
  return [job.id, colorStatus(c, job.status), job.type, docs, created];
}

export interface Highlight {
  start: number;
  end: number;
}

/**
 * A hit's text on one line, whitespace collapsed, at most `max` characters around its first highlight, with the
 * highlighted spans in bold (plain when colors are off).
 */
export function highlightText(c: Colors, text: string, highlights: readonly Highlight[], max = 300): string {
  const spans = [...highlights]
    .filter((h) => h.end > h.start && h.start >= 0 && h.start < text.length)
    .sort((a, b) => a.start - b.start);
  const first = spans[0]?.start ?? 0;
  let from = Math.max(0, first - Math.floor(max / 4));
  const to = Math.min(text.length, from + max);
  from = Math.max(0, Math.min(from, to - max));
  let out = '';
  let at = from;
  for (const span of spans) {
    const start = Math.max(span.start, at);
    const end = Math.min(span.end, to);
    if (start >= end) continue;
    out += text.slice(at, start) + c.bold(text.slice(start, end));
    at = end;
  }
  out += text.slice(at, to);
  out = out.replace(/\s+/g, ' ').trim();
  return `${from > 0 ? '…' : ''}${out}${to < text.length ? '…' : ''}`;
}

export interface SearchHit {
  documentId: string;
  filename: string;
  page: number | null;
  text: string;
  score: number;
  highlights?: Highlight[];
}

export function formatSearchResults(
  c: Colors,
  answer: { mode?: string; results: SearchHit[]; nextCursor?: string | null },
): string[] {
  if (answer.results.length === 0) return ['no results'];
  const lines: string[] = [];
  answer.results.forEach((hit, i) => {
    const page = hit.page === null ? '' : ` p.${hit.page}`;
    lines.push(
      `${c.bold(`${i + 1}.`)} ${c.cyan(hit.filename)}${page}  ${c.dim(`score ${hit.score.toFixed(3)}`)}`,
    );
    lines.push(`   ${highlightText(c, hit.text, hit.highlights ?? [])}`);
  });
  if (answer.nextCursor) lines.push(c.dim(`more: --cursor ${answer.nextCursor}`));
  return lines;
}

export interface Citation {
  documentId: string;
  filename: string;
  page: number;
  quote: string;
}

/** An `answer` analysis's result: the answer (or that none was found), how it was made, its citations. */
export function formatAnswer(
  c: Colors,
  result: { answer: string | null; method?: string; citations: Citation[] },
): string[] {
  const lines = [result.answer ?? c.yellow('The documents do not answer this question.')];
  if (result.citations.length > 0) {
    lines.push('', c.dim(`Sources${result.method ? ` (${result.method})` : ''}:`));
    result.citations.forEach((cite, i) => {
      const quote = cite.quote.length > 160 ? `${cite.quote.slice(0, 159)}…` : cite.quote;
      lines.push(`  [${i + 1}] ${c.cyan(cite.filename)} p.${cite.page}: ${c.dim(`"${quote}"`)}`);
    });
  }
  return lines;
}

/** A flat record as `key  value` lines (nested values as JSON). */
export function formatRecord(c: Colors, record: Record<string, unknown>): string[] {
  return formatTable(
    c,
    Object.entries(record).map(([k, v]) => [
      c.dim(k),
      v === null || v === undefined
        ? '-'
        : typeof v === 'object'
          ? JSON.stringify(v)
          : String(v as string | number),
    ]),
  );
}
