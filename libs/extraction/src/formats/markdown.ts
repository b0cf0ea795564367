import MarkdownIt from 'markdown-it';
import { readFile } from 'node:fs/promises';
import { decodeText } from '../decode-text';
import type { Block } from '../structure/blocks';
import { parseHtmlDocument } from '../structure/dom';
import { htmlToBlocks } from '../structure/html-blocks';
import { asPage, checkPageCount, pageFromBlocks } from './pages';
import type { FormatParser } from './types';

// Raw HTML in Markdown stays text: it is the author's markup, not something to run or render.
const markdown = new MarkdownIt({ html: false, linkify: false });

/**
 * Markdown rendered to HTML by markdown-it and read as HTML (see htmlToBlocks), so headings become section paths
 * and tables keep their rows. Form feeds split pages, as they do for plain text; a heading path carries over into
 * the next page. YAML front matter is kept as a plain block of its lines, its `title` is the document's title.
 */
export const parseMarkdown: FormatParser = async (input, sink) => {
  const { text } = decodeText(new Uint8Array(await readFile(input.path)));
  const { frontMatter, body } = splitFrontMatter(text);
  const parts = body.split('\f');
  // A trailing form feed ends the last page rather than starting an empty one.
  if (parts.length > 1 && parts[parts.length - 1]?.trim() === '') parts.pop();
  checkPageCount(parts.length, input.limits, 'pages');

  let startPath: string[] = [];
  let startLevels: number[] = [];
  parts.forEach((part, i) => {
    const blocks: Block[] = htmlToBlocks(
      parseHtmlDocument(`<!doctype html><html><body>${markdown.render(part)}</body></html>`),
    );
    if (i === 0 && frontMatter !== null) blocks.unshift({ kind: 'code', text: frontMatter });
    const page = pageFromBlocks(i + 1, blocks, { startPath, startLevels });
    startPath = page.endPath;
    startLevels = page.endLevels;
    sink.page(asPage(page));
  });
  const title = frontMatter !== null ? frontMatterTitle(frontMatter) : null;
  return title !== null ? { title } : {};
};

/**
 * A YAML front matter block (`---` on the first line, closed by `---` or `...`). Markdown would read it as a rule
 * and a setext heading, which would make the metadata the document's first section.
 */
function splitFrontMatter(text: string): { frontMatter: string | null; body: string } {
  const source = text.replace(/^\uFEFF/, '');
  const lines = source.split('\n');
  if (lines[0]?.trimEnd() !== '---') return { frontMatter: null, body: source };
  // Front matter is short; a `---` far down is a rule in a document that merely opens with one.
  const end = lines.findIndex(
    (line, i) => i > 0 && i <= 200 && (line.trimEnd() === '---' || line.trimEnd() === '...'),
  );
  if (end === -1) return { frontMatter: null, body: source };
  const frontMatter = lines.slice(1, end).join('\n');
  if (!lines.slice(1, end).every((line) => line.trim() === '' || /^[\w-]+\s*:|^\s+|^-\s/.test(line))) {
    return { frontMatter: null, body: source };
  }
  return { frontMatter, body: lines.slice(end + 1).join('\n') };
}

function frontMatterTitle(frontMatter: string): string | null {
  for (const line of frontMatter.split('\n')) {
    const match = /^title\s*:\s*(.+)$/i.exec(line);
    if (match === null) continue;
    const title = match[1]!
      .trim()
      .replace(/^(["'])(.*)\1$/, '$2')
      .trim();
    return title === '' ? null : title;
  }
  return null;
}
