import { QuarryError, type ErrorCode } from '@quarry/contracts';
import { parseOffice, type OfficeContentNode, type OfficeParserAST } from 'officeparser';
import type { Block } from '../structure/blocks';
import type { ParseInput } from './types';

/** The formats officeparser reads for Quarry; PDF never goes through it (it would reach for pdf.js on its own). */
export type OfficeParserType = 'pptx' | 'odt' | 'ods' | 'odp' | 'rtf';

/**
 * officeparser's AST of a document. Everything that could reach outside the process is off: no OCR (Tesseract
 * would fetch language data), no attachment extraction, and the type is given rather than sniffed, so a PDF
 * could never be routed to pdf.js's worker. The archive limits come from the caller's.
 */
export async function parseOfficeAst(input: ParseInput, type: OfficeParserType): Promise<OfficeParserAST> {
  try {
    return await parseOffice(input.path, {
      fileType: type,
      ocr: false,
      extractAttachments: false,
      includeRawContent: false,
      ignoreComments: true,
      ignoreHeadersAndFooters: true,
      ignoreSlideMasters: true,
      ignoreNotes: false,
      ignorePageGeometry: true,
      decompressionLimits: {
        maxUncompressedBytes: input.limits.maxUncompressedBytes,
        maxZipEntries: input.limits.maxArchiveEntries,
      },
      // officeparser reports non-fatal issues through this; without it, it logs them to the console.
      onWarning: () => undefined,
    });
  } catch (error) {
    throw officeError(error, type);
  }
}

function officeError(error: unknown, type: OfficeParserType): QuarryError {
  if (QuarryError.is(error)) return error;
  const code = (error as { officeIssue?: { code?: unknown } } | null)?.officeIssue?.code;
  const message = error instanceof Error ? error.message : String(error);
  const details = { library: 'officeparser', libraryCode: typeof code === 'string' ? code : null };
  switch (code) {
    case 'PASSWORD_REQUIRED':
    case 'PASSWORD_INCORRECT':
    case 'DOCUMENT_DECRYPTION_FAILED':
      return new QuarryError('encrypted', `The ${type.toUpperCase()} document is password-protected`, {
        cause: error,
        details,
      });
    case 'ZIP_ENTRY_COUNT_LIMIT_EXCEEDED':
    case 'ZIP_SIZE_LIMIT_EXCEEDED':
    case 'XML_ELEMENT_LIMIT_EXCEEDED':
      return new QuarryError(
        'archive_too_large',
        `The ${type.toUpperCase()} document is too large: ${message}`,
        {
          cause: error,
          details,
        },
      );
  }
  const corrupt: ErrorCode = `corrupt_${type}`;
  return new QuarryError(corrupt, `The ${type.toUpperCase()} document could not be read: ${message}`, {
    cause: error,
    details,
  });
}

export interface AstBlockOptions {
  /**
   * Take a table's first row for its header when it looks like one (every cell filled, not all numbers): the
   * formats officeparser reads do not say (PowerPoint's "header row" flag is a style), and most tables have one.
   */
  guessTableHeader?: boolean;
}

/** Content nodes as blocks: headings, paragraphs, consecutive list items as one list, tables as rows. */
export function astToBlocks(nodes: readonly OfficeContentNode[], options: AstBlockOptions = {}): Block[] {
  const blocks: Block[] = [];
  let list: { id: string; ordered: boolean; items: string[]; levels: number[] } | null = null;
  const endList = (): void => {
    if (list !== null && list.items.length > 0) {
      blocks.push(
        list.levels.some((l) => l > 0)
          ? { kind: 'list', items: list.items, ordered: list.ordered, levels: list.levels }
          : { kind: 'list', items: list.items, ordered: list.ordered },
      );
    }
    list = null;
  };

  const visit = (node: OfficeContentNode): void => {
    if (node.type === 'list') {
      const id = node.metadata?.listId ?? '';
      const ordered = node.metadata?.listType === 'ordered';
      if (list === null || list.id !== id || list.ordered !== ordered) {
        endList();
        list = { id, ordered, items: [], levels: [] };
      }
      const text = nodeText(node);
      if (text.trim() !== '') {
        list.items.push(text);
        list.levels.push(node.metadata?.indentation ?? 0);
      }
      return;
    }
    endList();
    switch (node.type) {
      case 'heading': {
        const text = nodeText(node);
        if (text.trim() !== '') blocks.push({ kind: 'heading', level: node.metadata?.level ?? 1, text });
        return;
      }
      case 'paragraph':
      case 'text':
      case 'definitionTerm':
      case 'definitionDescription': {
        const text = nodeText(node);
        if (text.trim() !== '') blocks.push({ kind: 'paragraph', text });
        return;
      }
      case 'code': {
        const text = nodeText(node);
        if (text.trim() !== '') blocks.push({ kind: 'code', text });
        return;
      }
      case 'table': {
        const rows = tableRows(node);
        if (rows.length > 0) {
          const header = options.guessTableHeader === true && looksLikeHeader(rows);
          blocks.push(header ? { kind: 'table', rows, header } : { kind: 'table', rows });
        }
        return;
      }
      // Page furniture and non-text: comments, headers and footers are switched off, images have no text here.
      case 'comment':
      case 'header':
      case 'footer':
      case 'slideMaster':
      case 'image':
      case 'chart':
      case 'embed':
      case 'break':
      case 'note':
        return;
      default:
        // Containers (slides, sheets, pages, drawings, admonitions, definition lists) hold blocks of their own.
        for (const child of node.children ?? []) visit(child);
        endList();
    }
  };

  for (const node of nodes) visit(node);
  endList();
  return blocks;
}

/**
 * A node's text. officeparser fills `text` on paragraphs and cells; a container without it (a note) is its
 * children's texts, runs of text joined as they are and blocks one per line.
 */
export function nodeText(node: OfficeContentNode): string {
  if (typeof node.text === 'string') return node.text;
  const children = node.children ?? [];
  return children.map(nodeText).join(children.every((c) => c.type === 'text') ? '' : '\n');
}

/** Rows of cell texts; a row of only empty cells is left out. */
export function tableRows(table: OfficeContentNode): string[][] {
  const rows: string[][] = [];
  for (const row of table.children ?? []) {
    if (row.type !== 'row') continue;
    const cells: string[] = [];
    for (const cell of row.children ?? []) {
      if (cell.type !== 'cell') continue;
      // A cell's paragraphs are separate lines in the cell, one line in the rendered row.
      const text =
        (cell.children ?? []).length > 0 ? (cell.children ?? []).map(nodeText).join(' ') : nodeText(cell);
      const col = cell.metadata?.col;
      if (col !== undefined && col > cells.length && col - cells.length < 1000) {
        while (cells.length < col) cells.push('');
      }
      cells.push(text);
    }
    if (cells.some((c) => c.trim() !== '')) rows.push(cells);
  }
  return rows;
}

function looksLikeHeader(rows: readonly string[][]): boolean {
  const [first] = rows;
  if (first === undefined || rows.length < 2 || first.length < 2) return false;
  return first.every((c) => c.trim() !== '') && first.some((c) => Number.isNaN(Number(c.trim())));
}

/** The texts of the footnotes and endnotes anywhere under the nodes, in document order. */
export function collectNotes(nodes: readonly OfficeContentNode[]): string[] {
  const notes: string[] = [];
  const visit = (node: OfficeContentNode): void => {
    for (const note of node.notes ?? []) {
      const text = nodeText(note).trim();
      if (text !== '') notes.push(text);
    }
    for (const child of node.children ?? []) visit(child);
  };
  for (const node of nodes) visit(node);
  return notes;
}
