import { PDFDocument, StandardFonts } from 'pdf-lib';

const PAGE_WIDTH = 612;
const PAGE_HEIGHT = 792;
const MARGIN = 72;
const FONT_SIZE = 12;
const LEADING = 16;

/**
 * A born-digital PDF with a real text layer: one inner array per page, one string per line (an empty string is a
 * blank line, i.e. a paragraph break). Long lines wrap at the margin; lines that overflow the page are dropped
 * rather than moved, so the caller decides pagination. Helvetica is WinAnsi: characters outside it throw.
 * Test-only (pdf-lib is a devDependency), hence not exported from the library's index.
 */
export async function makeTestPdf(pages: string[][]): Promise<Uint8Array> {
  // No metadata update: the output is then byte-identical across runs.
  const doc = await PDFDocument.create({ updateMetadata: false });
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const maxWidth = PAGE_WIDTH - 2 * MARGIN;
  for (const lines of pages) {
    const page = doc.addPage([PAGE_WIDTH, PAGE_HEIGHT]);
    let y = PAGE_HEIGHT - MARGIN;
    for (const line of lines.flatMap((l) => wrap(l, (s) => font.widthOfTextAtSize(s, FONT_SIZE), maxWidth))) {
      if (y < MARGIN) break;
      if (line !== '') page.drawText(line, { x: MARGIN, y, size: FONT_SIZE, font });
      y -= LEADING;
    }
  }
  return doc.save();
}

function wrap(line: string, width: (s: string) => number, maxWidth: number): string[] {
  if (width(line) <= maxWidth) return [line];
  const out: string[] = [];
  let current = '';
  for (const word of line.split(/\s+/)) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (current !== '' && width(candidate) > maxWidth) {
      out.push(current);
      current = word;
    } else {
      current = candidate;
    }
  }
  if (current !== '') out.push(current);
  return out;
}
