/** One pdf.js text item reduced to what layout needs (user-space coordinates, y grows upwards). */
export interface PdfTextItem {
  str: string;
  hasEOL: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A page's text items as a few flat arrays instead of one object per item: a hostile page can hold hundreds of
 * thousands of items, and this crosses from the memory-limited worker to the parent as one string and three
 * transferred buffers, with no per-item objects cloned into the parent's heap.
 */
export interface PackedTextItems {
  /** Every item's `str`, concatenated. */
  text: string;
  /** Length of each item's `str` within `text`. */
  lengths: Uint32Array;
  /** x, y, width, height of each item, in that order. */
  geometry: Float64Array;
  /** 1 where the item ends a line. */
  eol: Uint8Array;
}

/** The parent-side mirror of the worker's packing, for tests and callers holding plain items. */
export function packTextItems(items: readonly PdfTextItem[]): PackedTextItems {
  const geometry = new Float64Array(items.length * 4);
  items.forEach((item, i) => geometry.set([item.x, item.y, item.width, item.height], i * 4));
  return {
    text: items.map((item) => item.str).join(''),
    lengths: Uint32Array.from(items, (item) => item.str.length),
    geometry,
    eol: Uint8Array.from(items, (item) => (item.hasEOL ? 1 : 0)),
  };
}

interface Line {
  text: string;
  y: number;
  height: number;
}

/**
 * Joins a page's text items into lines (pdf.js's `hasEOL`, or a change of baseline when it is missing) and lines
 * into paragraphs: a blank line goes where the vertical gap is clearly larger than the page's usual line spacing,
 * or where the text jumps upwards (a new column or block), so chunking can respect paragraphs.
 */
export function joinPageText(items: PackedTextItems): string {
  const lines = toLines(items);
  if (lines.length === 0) return '';
  const leading = typicalLeading(lines);
  let out = lines[0]?.text ?? '';
  for (let i = 1; i < lines.length; i++) {
    const previous = lines[i - 1];
    const line = lines[i];
    if (previous === undefined || line === undefined) continue;
    const drop = previous.y - line.y;
    const paragraph = drop > 1.5 * leading || drop < -Math.max(previous.height, line.height);
    out += (paragraph ? '\n\n' : '\n') + line.text;
  }
  // Fonts without a usable ToUnicode map can yield NULs, which PostgreSQL text columns reject.
  return out.replace(/\0/g, '');
}

function toLines({ text, lengths, geometry, eol }: PackedTextItems): Line[] {
  const lines: Line[] = [];
  let line = '';
  let lineY = 0;
  let lineHeight = 0;
  let hasText = false;
  // Right edge, baseline and height of the previous non-empty item on the current line.
  let lastRight = 0;
  let lastY = 0;
  let lastHeight = 0;
  let lineOpen = false;

  const flush = (): void => {
    const trimmed = line.replace(/\s+$/, '');
    if (hasText && trimmed !== '') lines.push({ text: trimmed, y: lineY, height: lineHeight });
    line = '';
    hasText = false;
    lineHeight = 0;
    lineOpen = false;
  };

  let offset = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i] ?? 0;
    const str = text.slice(offset, offset + length);
    offset += length;
    const x = geometry[i * 4] ?? 0;
    const y = geometry[i * 4 + 1] ?? 0;
    const width = geometry[i * 4 + 2] ?? 0;
    const height = geometry[i * 4 + 3] ?? 0;

    if (str !== '') {
      if (lineOpen && Math.abs(y - lastY) > Math.max(height, lastHeight) / 2) flush();
      // pdf.js already inserts the spaces it infers; this only covers runs it leaves touching across a visible gap.
      if (
        lineOpen &&
        !/\s$/.test(line) &&
        !/^\s/.test(str) &&
        x - lastRight > 0.25 * Math.max(height, lastHeight)
      ) {
        line += ' ';
      }
      if (!hasText && str.trim() !== '') {
        hasText = true;
        lineY = y;
      }
      line += str;
      lineHeight = Math.max(lineHeight, height);
      lastRight = x + width;
      lastY = y;
      lastHeight = height;
      lineOpen = true;
    }
    if (eol[i] === 1) flush();
  }
  flush();
  return lines;
}

/**
 * The page's normal baseline-to-baseline distance: the median drop between consecutive lines, capped at 1.5× the
 * font size so a page of one-line paragraphs separated by blank lines still shows its breaks. Double-spaced text
 * therefore comes out as one paragraph per line, which chunking tolerates better than missed breaks.
 */
function typicalLeading(lines: readonly Line[]): number {
  const heights = lines.map((line) => line.height).filter((h) => h > 0);
  const fontSize = heights.length > 0 ? median(heights) : 12;
  const drops: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const drop = (lines[i - 1]?.y ?? 0) - (lines[i]?.y ?? 0);
    if (drop > 0) drops.push(drop);
  }
  if (drops.length < 3) return 1.25 * fontSize;
  return Math.min(median(drops), 1.5 * fontSize);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
