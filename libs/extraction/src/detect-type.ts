import type { DetectedType } from '@quarry/contracts';
import { tryDecode } from './charset';

/** How many leading bytes `detectType` looks at; callers read at least this much of a blob. */
export const DETECT_HEAD_BYTES = 4096;

// Acrobat accepts `%PDF-` anywhere in the first 1024 bytes (mail gateways and download tools prepend headers).
const PDF_HEADER_WINDOW = 1024;

const MARKDOWN_EXTENSIONS = /\.(md|markdown|mdown|mkd|mdx)$/i;
const TEXT_EXTENSIONS = /\.(txt|text|log)$/i;

/**
 * The type of a document judged by its content alone. `filenameHint` never decides the type: it only breaks the
 * tie between `markdown` and `text` once the content is known to be text, because uploads lie about names and MIME types.
 */
export function detectType(head: Uint8Array, filenameHint?: string): DetectedType {
  const bytes = head.length > DETECT_HEAD_BYTES ? head.subarray(0, DETECT_HEAD_BYTES) : head;
  if (bytes.length === 0) return 'unknown';

  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
  if (
    startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return 'tiff';
  }
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return isDocx(bytes) ? 'docx' : 'unknown';
  if (hasPdfHeader(bytes)) return 'pdf';

  const decoded = tryDecode(bytes, { truncated: true, strict: true });
  if (decoded === null) return 'unknown';
  const text = decoded.text;
  if (isHtml(text)) return 'html';
  return markdownOrText(text, filenameHint);
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

function indexOfAscii(bytes: Uint8Array, needle: string, from = 0, until = bytes.length): number {
  const first = needle.charCodeAt(0);
  const last = Math.min(until, bytes.length - needle.length);
  outer: for (let i = from; i <= last; i++) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/**
 * `%PDF-n.n` at the start, or later within the window when what precedes it is a line break or binary junk.
 * A text file that merely mentions "%PDF-1.7" mid-sentence stays text.
 */
function hasPdfHeader(bytes: Uint8Array): boolean {
  let at = indexOfAscii(bytes, '%PDF-', 0, PDF_HEADER_WINDOW);
  while (at !== -1) {
    const versioned = isDigit(bytes[at + 5]) && bytes[at + 6] === 0x2e && isDigit(bytes[at + 7]);
    const before = at === 0 ? undefined : bytes[at - 1];
    const boundary = before === undefined || before < 0x20 || before === 0x7f;
    if (versioned && boundary) return true;
    at = indexOfAscii(bytes, '%PDF-', at + 1, PDF_HEADER_WINDOW);
  }
  return false;
}

/**
 * A zip is a docx when an OOXML word part is among the local file headers in the head. Word writes
 * `word/document.xml` within the first few entries; any `word/` part is as good a signal, since
 * other tools order entries differently.
 */
function isDocx(bytes: Uint8Array): boolean {
  return (
    indexOfAscii(bytes, 'word/document.xml') !== -1 ||
    localEntryNames(bytes).some((n) => n.startsWith('word/'))
  );
}

function localEntryNames(bytes: Uint8Array): string[] {
  const names: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 30 <= bytes.length && view.getUint32(offset, true) === 0x04034b50) {
    const flags = view.getUint16(offset + 6, true);
    const compressedSize = view.getUint32(offset + 18, true);
    const nameLength = view.getUint16(offset + 26, true);
    const extraLength = view.getUint16(offset + 28, true);
    const nameEnd = offset + 30 + nameLength;
    if (nameEnd > bytes.length) break;
    names.push(new TextDecoder('latin1').decode(bytes.subarray(offset + 30, nameEnd)));
    // With a data descriptor (bit 3) the size is only known after the data: the next header cannot be found.
    if ((flags & 0x08) !== 0) break;
    offset = nameEnd + extraLength + compressedSize;
  }
  return names;
}

function isHtml(text: string): boolean {
  let rest = text.replace(/^\uFEFF/, '').trimStart();
  // Pages often open with an XML declaration or a comment (generator notices, conditional comments) before the doctype.
  for (;;) {
    const skipped = rest
      .replace(/^<\?xml[^>]*>/i, '')
      .replace(/^<!--[\s\S]*?-->/, '')
      .trimStart();
    if (skipped === rest) break;
    rest = skipped;
  }
  return /^<!doctype\s+html[\s>]/i.test(rest) || /^<html[\s>]/i.test(rest);
}

function markdownOrText(text: string, filenameHint: string | undefined): 'markdown' | 'text' {
  if (filenameHint !== undefined) {
    if (MARKDOWN_EXTENSIONS.test(filenameHint)) return 'markdown';
    if (TEXT_EXTENSIONS.test(filenameHint)) return 'text';
  }
  return looksLikeMarkdown(text) ? 'markdown' : 'text';
}

/**
 * Scores Markdown constructs: a fence or a table decides alone; a heading, a link or a setext underline needs one
 * more signal, because plain text also has the odd line starting with "#" or a URL in brackets.
 */
export function looksLikeMarkdown(text: string): boolean {
  let score = 0;
  let listItems = 0;
  let inline = 0;
  let previous = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^#{1,6}\s+\S/.test(line)) score += 2;
    else if (/^\s{0,3}(```|~~~)/.test(line)) score += 3;
    else if (/^\s{0,3}([-*+]|\d{1,3}[.)])\s+\S/.test(line)) listItems++;
    else if (/^\s{0,3}>\s?\S/.test(line)) score += 1;
    else if (/^\s{0,3}(=+|-+)\s*$/.test(line) && previous.trim() !== '' && !/^\s{0,3}[-*+]\s/.test(previous))
      score += 2;
    else if (/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$/.test(line)) score += 3;
    if (/\[[^\]\n]+\]\((https?:\/\/|\/|#|\.{0,2}\/?)[^)\s]*\)/.test(line)) score += 2;
    if (/(\*\*|__)\S[^*_\n]*\S\1/.test(line) || /`[^`\n]+`/.test(line)) inline++;
    previous = line;
    if (score >= 3) return true;
  }
  // Dashed lists and `code` or __dunder__ mentions also occur in plain notes: alone they never decide.
  return score + Math.min(listItems, 2) + Math.min(inline, 2) >= 3;
}
