import type { DetectedType } from '@quarry/contracts';
import { open } from 'node:fs/promises';
import { tryDecode } from './charset';
import { csvEvidence } from './formats/csv-sniff';
import { listZipEntries, readZipEntryHead } from './zip/inspect-zip';

/** How many leading bytes `detectType` looks at; callers read at least this much of a blob. */
export const DETECT_HEAD_BYTES = 4096;

// Acrobat accepts `%PDF-` anywhere in the first 1024 bytes (mail gateways and download tools prepend headers).
const PDF_HEADER_WINDOW = 1024;

const MARKDOWN_EXTENSIONS = /\.(md|markdown|mdown|mkd|mdx)$/i;
const TEXT_EXTENSIONS = /\.(txt|text|log)$/i;
const CSV_EXTENSIONS = /\.(csv|tsv|tab)$/i;

const OLE2_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] as const;
const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04] as const;
// An empty archive is only its end-of-central-directory record; a spanned one starts with a split marker.
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06] as const;
const ZIP_SPANNED = [0x50, 0x4b, 0x07, 0x08] as const;

/** What the `mimetype` entry of an OpenDocument or EPUB package says it is. */
const PACKAGE_MIMETYPES: Record<string, DetectedType> = {
  'application/vnd.oasis.opendocument.text': 'odt',
  'application/vnd.oasis.opendocument.text-template': 'odt',
  'application/vnd.oasis.opendocument.spreadsheet': 'ods',
  'application/vnd.oasis.opendocument.spreadsheet-template': 'ods',
  'application/vnd.oasis.opendocument.presentation': 'odp',
  'application/vnd.oasis.opendocument.presentation-template': 'odp',
  'application/epub+zip': 'epub',
};

/**
 * The type of a document judged by its content alone. `filenameHint` never decides the type: it only breaks the
 * ties the content leaves open (Markdown or text, delimited data or text), because uploads lie about names and MIME
 * types. ZIP containers are told apart by the entries their head shows; `detectFileType` also reads the central
 * directory when the head does not show enough.
 */
export function detectType(head: Uint8Array, filenameHint?: string): DetectedType {
  const bytes = head.length > DETECT_HEAD_BYTES ? head.subarray(0, DETECT_HEAD_BYTES) : head;
  if (bytes.length === 0) return 'unknown';

  const image = imageType(bytes);
  if (image !== null) return image;
  if (startsWith(bytes, ZIP_LOCAL_HEADER)) return zipTypeFromHead(bytes);
  if (startsWith(bytes, ZIP_EMPTY) || startsWith(bytes, ZIP_SPANNED)) return 'zip';
  if (startsWith(bytes, OLE2_MAGIC)) return 'ole2';
  if (hasPdfHeader(bytes)) return 'pdf';
  if (startsWithAscii(bytes, '{\\rtf')) return 'rtf';

  const decoded = tryDecode(bytes, { truncated: true, strict: true });
  if (decoded === null) return 'unknown';
  const text = decoded.text;
  if (isHtml(text)) return 'html';
  if (looksLikeEmail(text, bytes.length >= DETECT_HEAD_BYTES)) return 'eml';
  // A name that says Markdown or plain text settles it once the bytes are text, as it always has.
  if (
    filenameHint !== undefined &&
    (MARKDOWN_EXTENSIONS.test(filenameHint) || TEXT_EXTENSIONS.test(filenameHint))
  ) {
    return markdownOrText(text, filenameHint);
  }
  const csv = csvEvidence(text.replace(/^\uFEFF/, ''), { truncated: bytes.length >= DETECT_HEAD_BYTES });
  if (csv === 'strong') return 'csv';
  if (csv === 'weak' && filenameHint !== undefined && CSV_EXTENSIONS.test(filenameHint)) return 'csv';
  return markdownOrText(text, filenameHint);
}

/**
 * The type of a document on disk: `detectType` on its head, and for a ZIP archive its central directory (a head
 * cut short by data descriptors, or entries in an unusual order, does not show what the archive holds) and, for
 * OpenDocument and EPUB, its `mimetype` entry.
 */
export async function detectFileType(path: string, filenameHint?: string): Promise<DetectedType> {
  const head = await readHead(path, DETECT_HEAD_BYTES);
  const fromHead = detectType(head, filenameHint);
  if (!startsWith(head, ZIP_LOCAL_HEADER) && !startsWith(head, ZIP_EMPTY)) return fromHead;
  const names = await listZipEntries(path);
  if (names === null) return fromHead;
  const mimetype = names.includes('mimetype') ? await readZipEntryHead(path, 'mimetype', 200) : null;
  return classifyZip(names, mimetype === null ? null : mimetype.toString('latin1'));
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await file.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * What a ZIP archive is from its entry names and `mimetype` entry: OpenDocument and EPUB by the mimetype (their
 * specifications put it first and uncompressed for exactly this), Office Open XML by its main part's folder.
 */
export function classifyZip(names: readonly string[], mimetype: string | null): DetectedType {
  const declared = mimetype === null ? undefined : PACKAGE_MIMETYPES[mimetype.trim()];
  if (declared !== undefined) return declared;
  const has = (name: string): boolean => names.includes(name);
  if (has('word/document.xml')) return 'docx';
  if (has('ppt/presentation.xml')) return 'pptx';
  if (has('xl/workbook.xml')) return 'xlsx';
  // Tools other than Office order (and name) parts differently; any part of the main folder is as good a sign.
  if (names.some((n) => n.startsWith('word/'))) return 'docx';
  if (names.some((n) => n.startsWith('ppt/'))) return 'pptx';
  if (names.some((n) => n.startsWith('xl/'))) return 'xlsx';
  return 'zip';
}

function imageType(bytes: Uint8Array): DetectedType | null {
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
  if (startsWithAscii(bytes, 'RIFF') && startsWithAscii(bytes.subarray(8), 'WEBP')) return 'webp';
  if (startsWithAscii(bytes, 'GIF87a') || startsWithAscii(bytes, 'GIF89a')) return 'gif';
  if (isBmp(bytes)) return 'bmp';
  return null;
}

// The DIB header sizes of BITMAPCOREHEADER, OS/2 2.x (16 and 64), BITMAPINFOHEADER and its V2–V5 successors.
const BMP_DIB_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/** `BM`, zero reserved fields, a known DIB header size and pixel data after the headers: "BM" alone is text. */
function isBmp(bytes: Uint8Array): boolean {
  if (bytes.length < 26 || !startsWithAscii(bytes, 'BM')) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fileSize = view.getUint32(2, true);
  const reserved = view.getUint32(6, true);
  const dataOffset = view.getUint32(10, true);
  const dibSize = view.getUint32(14, true);
  return (
    reserved === 0 &&
    BMP_DIB_HEADER_SIZES.has(dibSize) &&
    dataOffset >= 14 + dibSize &&
    (fileSize === 0 || dataOffset < fileSize)
  );
}

/** The ZIP's type from the local headers in the head (see classifyZip); `zip` when they show nothing telling. */
function zipTypeFromHead(bytes: Uint8Array): DetectedType {
  const { names, mimetype } = localEntries(bytes);
  const type = classifyZip(names, mimetype);
  if (type !== 'zip') return type;
  // Word writes word/document.xml early, sometimes past an entry whose size the head cannot skip.
  if (indexOfAscii(bytes, 'word/document.xml') !== -1) return 'docx';
  if (indexOfAscii(bytes, 'ppt/presentation.xml') !== -1) return 'pptx';
  if (indexOfAscii(bytes, 'xl/workbook.xml') !== -1) return 'xlsx';
  return 'zip';
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
 * The entry names of the local file headers in the head, and the content of a first `mimetype` entry stored
 * uncompressed (where OpenDocument and EPUB put it).
 */
function localEntries(bytes: Uint8Array): { names: string[]; mimetype: string | null } {
  const names: string[] = [];
  let mimetype: string | null = null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 30 <= bytes.length && view.getUint32(offset, true) === 0x04034b50) {
    const flags = view.getUint16(offset + 6, true);
    const method = view.getUint16(offset + 8, true);
    const compressedSize = view.getUint32(offset + 18, true);
    const nameLength = view.getUint16(offset + 26, true);
    const extraLength = view.getUint16(offset + 28, true);
    const nameEnd = offset + 30 + nameLength;
    if (nameEnd > bytes.length) break;
    const name = new TextDecoder('latin1').decode(bytes.subarray(offset + 30, nameEnd));
    names.push(name);
    const dataStart = nameEnd + extraLength;
    if (names.length === 1 && name === 'mimetype' && method === 0 && compressedSize <= 200) {
      const dataEnd = Math.min(bytes.length, dataStart + compressedSize);
      mimetype = new TextDecoder('latin1').decode(bytes.subarray(dataStart, dataEnd));
    }
    // With a data descriptor (bit 3) the size is only known after the data: the next header cannot be found.
    if ((flags & 0x08) !== 0) break;
    offset = dataStart + compressedSize;
  }
  return { names, mimetype };
}

// Header fields of RFC 5322 and MIME that open real messages (and the trace fields servers prepend).
const EMAIL_HEADERS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'received',
  'return-path',
  'reply-to',
  'sender',
  'in-reply-to',
  'references',
  'content-type',
  'content-transfer-encoding',
  'delivered-to',
  'dkim-signature',
  'authentication-results',
  'x-mailer',
  'user-agent',
  'thread-topic',
  'thread-index',
  'x-originating-ip',
  'list-id',
  'arc-seal',
  'x-received',
]);

/**
 * An RFC 5322 header block at the start: every line up to the first blank one is a `Name: value` field or a folded
 * continuation, and at least two of the fields are ones messages carry. A note that opens with one "Subject: …"
 * line is not a message. `truncated`: the head may end inside the header block (long Received chains).
 */
export function looksLikeEmail(text: string, truncated = false): boolean {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  // An mbox export opens with a "From " envelope line before the header fields.
  if (lines[0]?.startsWith('From ') === true) lines.shift();
  if (truncated && lines.length > 1) lines.pop();
  let fields = 0;
  let known = 0;
  for (const line of lines) {
    if (line === '') break;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (fields === 0) return false;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    // Field names are printable ASCII without spaces or colons (RFC 5322 section 2.2).
    if (name === '' || !/^[\x21-\x39\x3b-\x7e]+$/.test(name)) return false;
    fields++;
    if (EMAIL_HEADERS.has(name.toLowerCase())) known++;
  }
  return known >= 2;
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

function startsWithAscii(bytes: Uint8Array, prefix: string): boolean {
  return bytes.length >= prefix.length && [...prefix].every((c, i) => bytes[i] === c.charCodeAt(0));
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

const TYPE_PHRASES: Record<DetectedType, string> = {
  pdf: 'a PDF document',
  text: 'a plain text file',
  markdown: 'a Markdown document',
  html: 'an HTML page',
  csv: 'a CSV file',
  docx: 'a Word document (DOCX)',
  pptx: 'a PowerPoint presentation (PPTX)',
  xlsx: 'an Excel workbook (XLSX)',
  odt: 'an OpenDocument text (ODT)',
  ods: 'an OpenDocument spreadsheet (ODS)',
  odp: 'an OpenDocument presentation (ODP)',
  rtf: 'an RTF document',
  eml: 'an e-mail message',
  epub: 'an EPUB e-book',
  png: 'a PNG image',
  jpeg: 'a JPEG image',
  tiff: 'a TIFF image',
  webp: 'a WebP image',
  bmp: 'a BMP image',
  gif: 'a GIF image',
  zip: 'a ZIP archive',
  ole2: 'a legacy Microsoft Office (OLE2) document',
  unknown: 'a file of unrecognised type',
};

/** Common binaries Quarry does not read, by their magic bytes (offset, bytes as a latin1 string), for messages. */
const UNSUPPORTED_MAGIC: { at: number; magic: string; phrase: string }[] = [
  { at: 0, magic: '\x1f\x8b', phrase: 'gzip-compressed data' },
  { at: 0, magic: 'BZh', phrase: 'bzip2-compressed data' },
  { at: 0, magic: '\xfd7zXZ\x00', phrase: 'xz-compressed data' },
  { at: 0, magic: '\x28\xb5\x2f\xfd', phrase: 'zstd-compressed data' },
  { at: 0, magic: '7z\xbc\xaf\x27\x1c', phrase: 'a 7-Zip archive' },
  { at: 0, magic: 'Rar!\x1a\x07', phrase: 'a RAR archive' },
  { at: 257, magic: 'ustar', phrase: 'a tar archive' },
  { at: 0, magic: 'MSCF', phrase: 'a Windows cabinet archive' },
  { at: 0, magic: '!<arch>\n', phrase: 'a Unix ar archive (such as a .deb package)' },
  { at: 0, magic: '\x7fELF', phrase: 'an ELF executable' },
  { at: 0, magic: 'MZ', phrase: 'a Windows executable' },
  { at: 0, magic: '\xcf\xfa\xed\xfe', phrase: 'a Mach-O executable' },
  { at: 0, magic: '\xce\xfa\xed\xfe', phrase: 'a Mach-O executable' },
  { at: 0, magic: '\xca\xfe\xba\xbe', phrase: 'a Java class file or Mach-O universal binary' },
  { at: 0, magic: '\x00asm', phrase: 'a WebAssembly module' },
  { at: 0, magic: 'SQLite format 3\x00', phrase: 'an SQLite database' },
  { at: 0, magic: 'ID3', phrase: 'an MP3 audio file' },
  { at: 0, magic: '\xff\xfb', phrase: 'an MP3 audio file' },
  { at: 0, magic: '\xff\xf3', phrase: 'an MP3 audio file' },
  { at: 0, magic: '\xff\xf2', phrase: 'an MP3 audio file' },
  { at: 0, magic: 'OggS', phrase: 'an Ogg audio or video file' },
  { at: 0, magic: 'fLaC', phrase: 'a FLAC audio file' },
  { at: 8, magic: 'WAVE', phrase: 'a WAV audio file' },
  { at: 8, magic: 'AVI ', phrase: 'an AVI video' },
  { at: 4, magic: 'ftypheic', phrase: 'a HEIC image' },
  { at: 4, magic: 'ftypheix', phrase: 'a HEIC image' },
  { at: 4, magic: 'ftypmif1', phrase: 'a HEIF image' },
  { at: 4, magic: 'ftypavif', phrase: 'an AVIF image' },
  { at: 4, magic: 'ftypM4A ', phrase: 'an M4A audio file' },
  { at: 4, magic: 'ftypqt  ', phrase: 'a QuickTime video' },
  { at: 4, magic: 'ftyp', phrase: 'an MP4 video' },
  { at: 0, magic: '\x1aE\xdf\xa3', phrase: 'a Matroska or WebM video' },
  { at: 0, magic: 'FLV', phrase: 'a Flash video' },
  { at: 0, magic: '8BPS', phrase: 'a Photoshop image' },
  { at: 0, magic: '\x00\x00\x01\x00', phrase: 'an icon file (ICO)' },
  { at: 0, magic: '%!PS', phrase: 'a PostScript document' },
  { at: 0, magic: 'wOFF', phrase: 'a web font (WOFF)' },
  { at: 0, magic: 'wOF2', phrase: 'a web font (WOFF2)' },
  { at: 0, magic: 'OTTO', phrase: 'an OpenType font' },
  { at: 0, magic: '\x00\x01\x00\x00\x00', phrase: 'a TrueType font' },
  { at: 0, magic: 'ITSF', phrase: 'a Windows help file (CHM)' },
  { at: 0, magic: '\x89HDF', phrase: 'an HDF5 data file' },
  { at: 0, magic: 'PAR1', phrase: 'a Parquet data file' },
];

/**
 * A phrase naming what a document is, for refusal messages ("Extracting text from a ZIP archive is not
 * supported"). For `unknown`, the head's magic bytes name common binaries Quarry does not read (gzip, executables,
 * audio and video, …) when they can.
 */
export function describeType(type: DetectedType, head?: Uint8Array): string {
  if (type === 'unknown' && head !== undefined) {
    const known = UNSUPPORTED_MAGIC.find(({ at, magic }) => matchesLatin1(head, at, magic));
    if (known !== undefined) return known.phrase;
    if (startsWithAscii(head, 'RIFF')) return 'a RIFF media file';
  }
  return TYPE_PHRASES[type];
}

function matchesLatin1(bytes: Uint8Array, at: number, magic: string): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic.charCodeAt(i)) return false;
  return true;
}
