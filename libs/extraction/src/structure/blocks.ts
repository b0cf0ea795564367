import type { PageSection } from '../types';

/**
 * A format-neutral block of document content: every structured parser (HTML, Markdown, DOCX, slides, sheets, …)
 * reduces its input to these, so the page text and its heading sections are rendered one way everywhere.
 */
export type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  /** `levels`, when given, holds each item's nesting depth (0 = top level), parallel to `items`. */
  | { kind: 'list'; items: string[]; ordered?: boolean; levels?: number[] }
  /** `header`: `rows[0]` names the columns. */
  | { kind: 'table'; rows: string[][]; header?: boolean }
  | { kind: 'code'; text: string }
  | { kind: 'quote'; text: string };

export interface RenderOptions {
  /** The heading path the page starts under (carried over from the previous page), outermost first. */
  startPath?: string[];
  /** The levels of `startPath`'s headings; without them the path counts as levels 1, 2, 3, … */
  startLevels?: number[];
}

export interface RenderedBlocks {
  text: string;
  sections: PageSection[];
  /** The heading path in force at the end, to carry into the next page. */
  endPath: string[];
  endLevels: number[];
}

const BLOCK_SEPARATOR = '\n\n';

/**
 * Renders blocks as page text: blocks apart by a blank line, headings as their own line, list items as `- item` or
 * `1. item`, tables row by row (see renderTable), and a section entry wherever a heading changes the path.
 */
export function renderBlocks(blocks: readonly Block[], options: RenderOptions = {}): RenderedBlocks {
  const startPath = (options.startPath ?? []).map(cleanLine).filter((t) => t !== '');
  const trail: { level: number; text: string }[] = startPath.map((text, i) => ({
    level: options.startLevels?.[i] ?? i + 1,
    text,
  }));
  const sections: PageSection[] = trail.length > 0 ? [{ offset: 0, path: startPath }] : [];
  const parts: string[] = [];
  let length = 0;

  for (const block of blocks) {
    const rendered = renderBlock(block);
    if (rendered === '') continue;
    const offset = parts.length === 0 ? 0 : length + BLOCK_SEPARATOR.length;
    if (block.kind === 'heading') {
      while (trail.length > 0 && trail[trail.length - 1]!.level >= block.level) trail.pop();
      trail.push({ level: block.level, text: rendered });
      const path = trail.map((h) => h.text);
      // A heading at the very start supersedes the carried-over path rather than following it.
      if (sections.length > 0 && sections[sections.length - 1]!.offset === offset) sections.pop();
      sections.push({ offset, path });
    }
    parts.push(rendered);
    length = offset + rendered.length;
  }

  return {
    text: parts.join(BLOCK_SEPARATOR),
    sections,
    endPath: trail.map((h) => h.text),
    endLevels: trail.map((h) => h.level),
  };
}

function renderBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return cleanLine(block.text);
    case 'paragraph':
    case 'quote':
      return cleanParagraph(block.text);
    case 'code':
      return cleanCode(block.text);
    case 'list':
      return renderList(block.items, block.ordered === true, block.levels);
    case 'table':
      return renderTable(block.rows, block.header === true);
  }
}

function renderList(
  items: readonly string[],
  ordered: boolean,
  levels: readonly number[] | undefined,
): string {
  const counters: number[] = [];
  const lines: string[] = [];
  items.forEach((item, i) => {
    const text = cleanParagraph(item);
    if (text === '') return;
    const level = Math.max(0, Math.floor(levels?.[i] ?? 0));
    counters.length = level + 1;
    counters[level] = (counters[level] ?? 0) + 1;
    const marker = ordered ? `${counters[level]}.` : '-';
    const indent = '  '.repeat(level);
    // Continuation lines of a multi-line item stay under the item.
    const hang = `${indent}${' '.repeat(marker.length + 1)}`;
    lines.push(`${indent}${marker} ${text.split('\n').join(`\n${hang}`)}`);
  });
  return lines.join('\n');
}

/**
 * A table with a header row and at least two columns renders the header line, then each row with its cells keyed
 * by their column names (`Name: Ann | Age: 42`), empty cells left out: a row cut out of the page alone still says
 * what its values are, which is what retrieval needs. Any other table renders its cells joined by ` | `.
 */
export function renderTable(rows: readonly (readonly string[])[], header: boolean): string {
  const cleaned = rows.map((row) => trimTrailingEmpty(row.map(cleanLine))).filter((row) => row.length > 0);
  if (cleaned.length === 0) return '';
  const [first, ...rest] = cleaned as [string[], ...string[][]];
  if (!header || first.length < 2) return cleaned.map((row) => row.join(' | ')).join('\n');

  const lines = [first.filter((name) => name !== '').join(' | ')];
  for (const row of rest) {
    const cells: string[] = [];
    row.forEach((value, i) => {
      if (value === '') return;
      const name = first[i] ?? '';
      cells.push(name === '' ? value : `${name}: ${value}`);
    });
    if (cells.length > 0) lines.push(cells.join(' | '));
  }
  return lines.join('\n');
}

function trimTrailingEmpty(row: string[]): string[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === '') end--;
  return end === row.length ? row : row.slice(0, end);
}

/** One line: every run of whitespace, line breaks included, becomes one space; NULs go (PostgreSQL rejects them). */
export function cleanLine(text: string): string {
  return stripNul(text).replace(/\s+/g, ' ').trim();
}

/** Runs of spaces collapse and blank lines go, but a line break the source made on purpose (`<br>`) stays. */
export function cleanParagraph(text: string): string {
  return stripNul(text)
    .split(/\r\n?|\n|\u2028|\u2029/)
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '')
    .join('\n');
}

function cleanCode(text: string): string {
  const lines = stripNul(text)
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

function stripNul(text: string): string {
  return text.includes('\0') ? text.replace(/\0/g, '') : text;
}
