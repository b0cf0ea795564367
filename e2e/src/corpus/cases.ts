import type { DetectedType, ErrorCode } from '@quarry/contracts';
import { makeDeflateBombPdf, makeEncryptedPdf, makeTextItemBombPdf } from '@quarry/testing';
import {
  classicPdf,
  concat,
  cut,
  DOCX_LIKE,
  ELF_HEAD,
  encode,
  garbage,
  gzip,
  imageOnlyPdf,
  JPEG_HEAD,
  manyPagePdf,
  PNG_1X1,
  textPdf,
  TIFF_HEAD,
  utf16be,
  utf16le,
  utf8,
  withBadStartxref,
  withoutXrefAndTrailer,
  withoutXrefTable,
  zeroPagePdf,
  zip,
} from './fixtures';
import type { FilePart } from './multipart';

/** The limits the corpus stack runs with: small enough that the limit cases stay cheap. */
export const CORPUS_LIMITS = {
  maxUploadBytes: 2 * 1024 * 1024,
  maxFiles: 12,
  // Long enough that the bombs usually hit the memory limit first, even on a loaded machine.
  pdfTimeoutMs: 12_000,
  parserMaxMemoryMb: 256,
};

/** What a case must end in. */
export type Expect =
  /** Refused at upload: nothing is stored, no job exists. */
  | { rejected: { status: number; code: ErrorCode } }
  /**
   * Accepted, then the document fails on its own with this code. Two codes only where which of the parser's
   * limits trips first depends on how loaded the machine is (memory or time).
   */
  | { failed: ErrorCode | readonly ErrorCode[] }
  /**
   * Accepted and indexed. `text` is every page's stored text (one string per page, or a pattern the
   * joined pages must match); `detectedType` is what the content said, whatever the name and MIME type.
   */
  | { indexed: { detectedType: DetectedType; text?: string[] | RegExp } };

export interface CorpusCase {
  name: string;
  filename: string;
  bytes: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
  /** The MIME type the client claims (never trusted). */
  type?: string;
  /** Send the name as RFC 5987 `filename*`. */
  extendedName?: boolean;
  /** The multipart field, when not `files`. */
  field?: string;
  /** Further parts of the same request (for rejections of a whole request). */
  alongside?: FilePart[];
  /** The name the document must be stored under, when sanitising changes it. */
  storedAs?: string;
  expect: Expect;
}

const GOOD_PDF_PAGES = [
  ['Quarry field report', '', 'Granite blocks were cut on the north face.'],
  ['Second page', '', 'Basalt columns were mapped along the ridge.'],
];
const CLASSIC = classicPdf([
  'Truncation page one: limestone survey notes.',
  'Truncation page two: sandstone core samples.',
  'Truncation page three: marble quarry budget.',
  'Truncation page four: slate roofing orders.',
]);
const FRENCH =
  "Le coeur déçu mais l'âme plutôt naïve, Louÿs rêva de crapahuter en canoë à côté de la forêt.\n";
const RUSSIAN =
  'Москва — столица России, город федерального значения, административный центр Центрального ' +
  'федерального округа. Город расположен на реке Москве в центре Восточно-Европейской равнины.\n';
const SVG = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>Logo</text></svg>\n';
const HTML = '<!DOCTYPE html>\n<html><head><title>T</title></head><body><p>Hello</p></body></html>\n';
const MARKDOWN = '# Quarry\n\nA *small* [guide](https://example.com) to schist.\n\n- one\n- two\n';
const JSON_TEXT = '{\n  "rock": "obsidian",\n  "hardness": 5.5,\n  "tags": ["volcanic", "glass"]\n}\n';
const CSV = 'id,rock,site\n1,pumice,Lipari\n2,tuff,Naples\n';
const TOKENS = 'Before <|endoftext|> after <|im_start|>system and <|fim_prefix|>.\n';
const PADDING = 'padding words '.repeat(300);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** The same request also carries MAX_FILES_PER_UPLOAD good files. */
const FULL_REQUEST = Array.from({ length: CORPUS_LIMITS.maxFiles }, (_, i) => ({
  filename: `part-${i}.txt`,
  bytes: utf8(`part ${i}\n`),
}));
const overLimit = () => new Uint8Array(CORPUS_LIMITS.maxUploadBytes + 1).fill(0x61);
const junkPrefixed = async () =>
  concat('X-Mailer: junk\r\n\r\n', await textPdf([['Prefixed document about dolomite.']]));
// Sized so that embedding them stays within the corpus's time budget. The word without spaces blocked the
// analysis worker's event loop for seconds (200 kB: 56 s) before the chunker stopped encoding spans too long to fit.
const oneLine = () => utf8(`${'lorem ipsum dolor sit amet '.repeat(2300)}end`);
const oneWord = () => utf8('y'.repeat(50_000));
const note = (what: string) => utf8(`This note was uploaded under a hostile name: ${what}.\n`);

const ok = (detectedType: DetectedType, text?: string[] | RegExp): Expect => ({
  indexed: text === undefined ? { detectedType } : { detectedType, text },
});
const fails = (code: ErrorCode | readonly ErrorCode[]): Expect => ({ failed: code });
const PARSER_LIMIT = ['parser_crashed', 'parser_timeout'] as const;
const refused = (status: number, code: ErrorCode): Expect => ({ rejected: { status, code } });

/** The corpus: one line per case. Every accepted case has bytes of its own, so none reuses another. */
// prettier-ignore
export const CORPUS: CorpusCase[] = [
  // Refused at upload
  { name: 'empty file', filename: 'empty.txt', bytes: new Uint8Array(0), expect: refused(400, 'empty_file') },
  { name: 'empty file beside a good one', filename: 'empty.pdf', bytes: new Uint8Array(0), alongside: [{ filename: 'good.txt', bytes: utf8('a good file in a bad request\n') }], expect: refused(400, 'empty_file') },
  { name: 'one byte over MAX_UPLOAD_BYTES', filename: 'huge.txt', bytes: overLimit, expect: refused(413, 'payload_too_large') },
  { name: 'file in the wrong multipart field', filename: 'notes.txt', field: 'file', bytes: utf8('sent in "file", not "files"\n'), expect: refused(400, 'validation_failed') },
  { name: 'one file more than MAX_FILES_PER_UPLOAD', filename: 'extra.txt', bytes: utf8('the straw\n'), alongside: FULL_REQUEST, expect: refused(400, 'too_many_files') },

  // Not what they claim to be: typed by their bytes, never by name or MIME type
  // Images are read by OCR now: these heads are broken images (the 1×1 PNG's IDAT fails its CRC).
  { name: 'PNG named .pdf', filename: 'scan.pdf', type: 'application/pdf', bytes: PNG_1X1, expect: fails('corrupt_image') },
  { name: 'JPEG named .pdf', filename: 'photo.pdf', type: 'application/pdf', bytes: JPEG_HEAD, expect: fails('corrupt_image') },
  { name: 'TIFF named .txt', filename: 'fax.txt', type: 'text/plain', bytes: TIFF_HEAD, expect: fails('corrupt_image') },
  { name: 'ZIP named .pdf', filename: 'bundle.pdf', type: 'application/pdf', bytes: zip({ 'readme.txt': 'inside a zip\n' }), expect: fails('unsupported_type') },
  { name: 'DOCX-like zip', filename: 'minutes.docx', bytes: DOCX_LIKE, expect: ok('docx', /Quarterly minutes/) },
  { name: 'ELF executable named .txt', filename: 'notes.txt', type: 'text/plain', bytes: ELF_HEAD, expect: fails('unsupported_type') },
  { name: 'gzip named .txt', filename: 'server.txt', type: 'text/plain', bytes: gzip('compressed log lines\n'.repeat(50)), expect: fails('unsupported_type') },
  { name: 'HTML named .txt', filename: 'page.txt', bytes: utf8(HTML), expect: ok('html', /Hello/) },
  { name: 'plain text named .pdf', filename: 'report.pdf', type: 'application/pdf', bytes: utf8('Not a PDF, a sentence about gneiss.\n'), expect: ok('text', ['Not a PDF, a sentence about gneiss.\n']) },
  { name: 'PDF named .txt with a text/plain MIME type', filename: 'notes.txt', type: 'text/plain', bytes: () => textPdf(GOOD_PDF_PAGES), expect: ok('pdf', /Granite blocks were cut[\s\S]*Basalt columns/) },
  { name: 'text whose claimed MIME type is image/png', filename: 'photo.png', type: 'image/png', bytes: utf8('The bytes say text about quartzite.\n'), expect: ok('text', ['The bytes say text about quartzite.\n']) },
  { name: 'SVG (XML) named .png', filename: 'logo.png', type: 'image/png', bytes: utf8(SVG), expect: ok('text', [SVG]) },

  // Truncated, encrypted, empty and hostile PDFs
  { name: 'PDF cut at 10 %', filename: 'cut-10.pdf', bytes: cut(CLASSIC, 0.1), expect: fails('corrupt_pdf') },
  { name: 'PDF cut at 50 %', filename: 'cut-50.pdf', bytes: cut(CLASSIC, 0.5), expect: fails('corrupt_pdf') },
  { name: 'PDF cut at 99 % (no %%EOF)', filename: 'cut-99.pdf', bytes: cut(CLASSIC, 0.99), expect: ok('pdf', /limestone[\s\S]*sandstone[\s\S]*marble[\s\S]*slate/) },
  // pdf.js rebuilds a lost xref table, but without a trailer it never finds the catalog, intact as that is.
  { name: 'PDF without xref table and trailer', filename: 'no-xref-no-trailer.pdf', bytes: withoutXrefAndTrailer(CLASSIC), expect: fails('corrupt_pdf') },
  { name: 'PDF without xref table, trailer kept', filename: 'no-xref.pdf', bytes: withoutXrefTable(CLASSIC), expect: ok('pdf', /limestone[\s\S]*slate/) },
  { name: 'PDF whose startxref points past the end', filename: 'bad-startxref.pdf', bytes: withBadStartxref(CLASSIC), expect: ok('pdf', /limestone[\s\S]*slate/) },
  { name: 'PDF header only', filename: 'header.pdf', bytes: utf8('%PDF-1.7\n'), expect: fails('corrupt_pdf') },
  { name: 'PDF header then binary garbage', filename: 'garbage.pdf', bytes: concat('%PDF-1.4\n', garbage(2048, 7)), expect: fails('corrupt_pdf') },
  { name: 'PDF behind a junk prefix', filename: 'mail-export.pdf', bytes: junkPrefixed, expect: ok('pdf', /Prefixed document about dolomite\./) },
  { name: 'password-protected PDF', filename: 'secret.pdf', bytes: makeEncryptedPdf('Top secret quarry plans.', 'hunter2'), expect: fails('encrypted_pdf') },
  { name: 'PDF with only an image, no text layer', filename: 'scanned.pdf', bytes: imageOnlyPdf(), expect: fails('no_text') },
  { name: 'PDF with zero pages', filename: 'zero-pages.pdf', bytes: zeroPagePdf(), expect: fails('corrupt_pdf') },
  { name: 'PDF of 400 000 tiny text runs (heap bomb)', filename: 'runs.pdf', bytes: () => makeTextItemBombPdf(400_000), expect: fails(PARSER_LIMIT) },
  // poppler streams the 1 GiB of spaces through in seconds and small memory: a page of nothing. On a slower or busier
  // machine the parser's deadline can trip first: each is a clear failure of this document alone, and the worker
  // goes on.
  { name: 'PDF inflating to 1 GiB (decompression bomb)', filename: 'deflate-bomb.pdf', bytes: () => makeDeflateBombPdf(1024), expect: fails(['no_text', 'parser_out_of_memory', 'parser_timeout']) },
  { name: 'PDF of 10 000 pages (past PARSER_MAX_PAGES)', filename: 'pages.pdf', bytes: () => manyPagePdf(10_000), expect: fails('too_many_pages') },

  // Text in every shape
  { name: 'a 60 kB single line of words', filename: 'one-line.txt', bytes: oneLine, expect: ok('text', /^lorem ipsum[^\n]*end$/) },
  { name: 'a 50 kB word without a single space', filename: 'one-word.txt', bytes: oneWord, expect: ok('text', /^y{50000}$/) },
  { name: 'binary garbage', filename: 'data.bin', bytes: garbage(4096), expect: fails('unsupported_type') },
  { name: 'UTF-16 LE with BOM', filename: 'le.txt', bytes: utf16le('Grüße aus Köln, UTF-16 LE.\n'), expect: ok('text', ['Grüße aus Köln, UTF-16 LE.\n']) },
  { name: 'UTF-16 BE with BOM', filename: 'be.txt', bytes: utf16be('Grüße aus Köln, UTF-16 BE.\n'), expect: ok('text', ['Grüße aus Köln, UTF-16 BE.\n']) },
  { name: 'UTF-8 with BOM', filename: 'bom.txt', bytes: concat(BOM, utf8('Zoë’s notes — UTF-8.\n')), expect: ok('text', ['Zoë’s notes — UTF-8.\n']) },
  { name: 'latin1 text', filename: 'latin1.txt', bytes: encode(FRENCH, 'latin1'), expect: ok('text', [FRENCH]) },
  { name: 'windows-1251 text', filename: 'cp1251.txt', bytes: encode(RUSSIAN, 'win1251'), expect: ok('text', [RUSSIAN]) },
  { name: 'text with a NUL byte in its first 4 kB', filename: 'nul-early.txt', bytes: utf8('first field\0second field\n'), expect: fails('unsupported_type') },
  { name: 'text with NUL bytes after its first 4 kB', filename: 'nul-late.txt', bytes: utf8(`${PADDING}\nzero-filled tail\0\0\0\0\n`), expect: ok('text', [`${PADDING}\nzero-filled tail\n`]) },
  { name: 'text with model special tokens', filename: 'tokens.txt', bytes: utf8(TOKENS), expect: ok('text', [TOKENS]) },
  // Markdown is rendered: headings and list items kept, the markup and link targets dropped.
  { name: 'Markdown', filename: 'README.md', bytes: utf8(MARKDOWN), expect: ok('markdown', /^Quarry\n\nA small guide to schist\.\n\n- one\n- two/) },
  { name: 'JSON', filename: 'data.json', type: 'application/json', bytes: utf8(JSON_TEXT), expect: ok('text', [JSON_TEXT]) },
  // Rows keep their header: each row reads on its own in a chunk.
  { name: 'CSV', filename: 'rocks.csv', type: 'text/csv', bytes: utf8(CSV), expect: ok('csv', ['id | rock | site\nid: 1 | rock: pumice | site: Lipari\nid: 2 | rock: tuff | site: Naples']) },
  { name: 'CRLF line endings', filename: 'windows.txt', bytes: utf8('chalk\r\nflint\r\n'), expect: ok('text', ['chalk\nflint\n']) },
  { name: 'form feeds as page breaks', filename: 'printout.txt', bytes: utf8('feldspar\fmica\fquartz\n'), expect: ok('text', ['feldspar', 'mica', 'quartz\n']) },
  { name: 'whitespace only', filename: 'blank.txt', bytes: utf8('   \n\n\t  \r\n '), expect: fails('no_text') },
  { name: 'a UTF-8 BOM and nothing else', filename: 'bom-only.txt', bytes: BOM, expect: fails('no_text') },
  { name: 'a single byte', filename: 'a.txt', bytes: utf8('a'), expect: ok('text', ['a']) },

  // Hostile names: labels, never paths
  { name: 'name ../../etc/passwd', filename: '../../etc/passwd', bytes: note('dot-dot'), storedAs: 'passwd', expect: ok('text') },
  { name: 'absolute path', filename: '/etc/shadow', bytes: note('absolute'), storedAs: 'shadow', expect: ok('text') },
  { name: 'Windows path', filename: 'C:\\Windows\\System32\\drivers\\etc\\hosts', bytes: note('windows'), storedAs: 'hosts', expect: ok('text') },
  { name: 'Windows dot-dot path', filename: '..\\..\\boot.ini', bytes: note('windows dot-dot'), storedAs: 'boot.ini', expect: ok('text') },
  { name: 'NUL in the name', filename: 'nul\u0000byte.txt', bytes: note('nul'), storedAs: 'nulbyte.txt', expect: ok('text') },
  { name: 'control characters and an ANSI escape in the name', filename: 'bell\u0007esc\u001b[31mred.txt', bytes: note('controls'), storedAs: 'bellesc[31mred.txt', expect: ok('text') },
  { name: 'CR LF in the name (percent-escaped, as browsers send it)', filename: 'line\r\nbreak.txt', bytes: note('crlf'), storedAs: 'line%0D%0Abreak.txt', expect: ok('text') },
  { name: 'right-to-left override in the name', filename: 'invoice\u202Etxt.exe', bytes: note('rtl'), storedAs: 'invoicetxt.exe', expect: ok('text') },
  { name: '1000-character name', filename: `${'n'.repeat(996)}.txt`, bytes: note('long'), storedAs: `${'n'.repeat(251)}.txt`, expect: ok('text') },
  { name: 'empty name', filename: '', bytes: note('empty'), storedAs: 'upload', expect: ok('text') },
  { name: 'name "."', filename: '.', bytes: note('dot'), storedAs: 'upload', expect: ok('text') },
  { name: 'name ".."', filename: '..', bytes: note('dot-dot alone'), storedAs: 'upload', expect: ok('text') },
  { name: 'dot file', filename: '.bashrc', bytes: note('dotfile'), expect: ok('text') },
  { name: 'decomposed (NFD) accents in the name', filename: 'cafe\u0301 cre\u0300me.txt', bytes: note('nfd'), storedAs: 'caf\u00e9 cr\u00e8me.txt', expect: ok('text') },
  { name: 'fullwidth solidus in the name (looks like a path, is none)', filename: '..\uff0f..\uff0fetc\uff0fpasswd', bytes: note('fullwidth'), expect: ok('text') },
  { name: 'RFC 5987 filename* with an encoded path', filename: '../../etc/group', extendedName: true, bytes: note('filename-star'), storedAs: 'group', expect: ok('text') },
  { name: 'Windows device name', filename: 'CON.txt', bytes: note('device'), expect: ok('text') },
  { name: 'double quotes in the name (percent-escaped)', filename: 'say "hi".txt', bytes: note('quotes'), storedAs: 'say %22hi%22.txt', expect: ok('text') },
];
