import { QuarryError } from '@quarry/contracts';
import { open } from 'node:fs/promises';
import { inspectZip } from '../zip/inspect-zip';
import { astToBlocks, collectNotes, parseOfficeAst } from './office-ast';
import { asPage, pageFromBlocks } from './pages';
import type { ParsedMeta, ParseInput, ParserSink } from './types';

export const FOOTNOTES_HEADING = 'Notes';

/**
 * A word-processing document read through officeparser (ODT, RTF) as one page: headings become sections, lists and
 * tables keep their shape, and footnotes and endnotes follow the text under a "Notes" heading.
 */
export async function parseFlowingDocument(
  input: ParseInput,
  sink: ParserSink,
  type: 'odt' | 'rtf',
): Promise<ParsedMeta> {
  if (type === 'odt') await inspectZip(input.path, 'odt', input.limits);
  else await requireRtfHeader(input.path);
  const ast = await parseOfficeAst(input, type);
  const blocks = astToBlocks(ast.content, { guessTableHeader: true });
  const notes = collectNotes(ast.content);
  if (notes.length > 0) {
    blocks.push({ kind: 'heading', level: 1, text: FOOTNOTES_HEADING });
    blocks.push(...notes.map((text) => ({ kind: 'paragraph' as const, text })));
  }
  sink.page(asPage(pageFromBlocks(1, blocks)));
  const title = ast.metadata.title?.trim();
  return title !== undefined && title !== '' ? { title } : {};
}

/** officeparser reads any text as RTF; a file that does not open with `{\rtf` is not one. */
async function requireRtfHeader(path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const text = head
      .subarray(0, bytesRead)
      .toString('latin1')
      .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
      .trimStart();
    if (!text.startsWith('{\\rtf')) {
      throw new QuarryError('corrupt_rtf', 'The document does not start with an RTF header ({\\rtf)');
    }
  } finally {
    await file.close();
  }
}
