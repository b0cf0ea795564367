import {
  Document as DocxDocument,
  HeadingLevel,
  Packer,
  Paragraph,
  Table as DocxTable,
  TableCell as DocxTableCell,
  TableRow as DocxTableRow,
} from 'docx';
import ExcelJS from 'exceljs';
import { strToU8, zipSync, type Zippable } from 'fflate';
import MailComposer from 'nodemailer/lib/mail-composer';
import PptxGenJS from 'pptxgenjs';

/*
 * Small, deterministic office documents, e-mails and hostile archives for the format parsers' tests. Test-only:
 * the generators are devDependencies, hence nothing here is exported from a library's index.
 */

const u8 = (buffer: Buffer | ArrayBuffer | Uint8Array): Uint8Array =>
  buffer instanceof Uint8Array
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

// ---------------------------------------------------------------------------------------------------------------
// DOCX

export interface DocSection {
  heading?: string;
  /** 1–6; default 1. */
  level?: number;
  paragraphs?: string[];
  bullets?: string[];
  /** The first row is a header row (Word's "repeat as header row"). */
  table?: string[][];
}

export interface DocxSpec {
  /** The core title (docProps/core.xml dc:title). */
  title?: string;
  sections: DocSection[];
}

const DOCX_HEADINGS = [
  HeadingLevel.HEADING_1,
  HeadingLevel.HEADING_2,
  HeadingLevel.HEADING_3,
  HeadingLevel.HEADING_4,
  HeadingLevel.HEADING_5,
  HeadingLevel.HEADING_6,
] as const;

/** A Word document with headings from Word's heading styles, paragraphs, bullets and tables. */
export async function makeDocx(spec: DocxSpec): Promise<Uint8Array> {
  const children: (Paragraph | DocxTable)[] = [];
  for (const section of spec.sections) {
    if (section.heading !== undefined) {
      const heading = DOCX_HEADINGS[Math.min(6, Math.max(1, section.level ?? 1)) - 1];
      children.push(new Paragraph({ text: section.heading, heading }));
    }
    for (const text of section.paragraphs ?? []) children.push(new Paragraph(text));
    for (const text of section.bullets ?? []) children.push(new Paragraph({ text, bullet: { level: 0 } }));
    if (section.table !== undefined) {
      children.push(
        new DocxTable({
          rows: section.table.map(
            (row, i) =>
              new DocxTableRow({
                tableHeader: i === 0,
                children: row.map((cell) => new DocxTableCell({ children: [new Paragraph(cell)] })),
              }),
          ),
        }),
      );
    }
  }
  const doc = new DocxDocument({
    ...(spec.title !== undefined ? { title: spec.title } : {}),
    sections: [{ children }],
  });
  return u8(await Packer.toBuffer(doc));
}

/** The minimal parts of a DOCX around a given `word/document.xml`, for hand-made (hostile) documents. */
function docxParts(documentXml: Uint8Array): Zippable {
  return {
    '[Content_Types].xml': strToU8(
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
        '<Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
        '</Types>',
    ),
    '_rels/.rels': strToU8(
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
        '</Relationships>',
    ),
    'word/document.xml': documentXml,
  };
}

const W_NS = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';

function wordDocumentXml(body: string, prologue = ''): string {
  return (
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>${prologue}` +
    `<w:document xmlns:w="${W_NS}"><w:body>${body}</w:body></w:document>`
  );
}

export interface ZipBombOptions {
  /** What the document part really inflates to; default 8 MiB (fast to build, compresses ~1000:1). */
  inflatedBytes?: number;
  /**
   * What the archive's directory says the part inflates to: `huge` (3 GiB, the bomb announces itself), `honest`,
   * or `small` (1 KiB: the directory lies and only inflating shows it). Default `huge`.
   */
  declare?: 'huge' | 'honest' | 'small';
}

/** A DOCX whose `word/document.xml` is a decompression bomb: one paragraph of megabytes of spaces. */
export function makeZipBombDocx(options: ZipBombOptions = {}): Uint8Array {
  const inflated = options.inflatedBytes ?? 8 * 1024 * 1024;
  const open = wordDocumentXml('<w:p><w:r><w:t xml:space="preserve">');
  const close = '</w:t></w:r></w:p></w:body></w:document>';
  const head = open.slice(0, open.indexOf('</w:body>'));
  const xml = new Uint8Array(inflated);
  xml.fill(0x20);
  xml.set(strToU8(head), 0);
  xml.set(strToU8(close), inflated - close.length);
  const zip = zipSync(docxParts(xml), { level: 9 });
  const declare = options.declare ?? 'huge';
  if (declare === 'honest') return zip;
  return patchDeclaredSize(zip, 'word/document.xml', declare === 'huge' ? 3 * 1024 ** 3 : 1024);
}

/**
 * Rewrites an entry's declared uncompressed size in its local header and in the central directory, as a zip bomb
 * crafted by hand does.
 */
export function patchDeclaredSize(zip: Uint8Array, name: string, size: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const wanted = strToU8(name);
  const nameAt = (at: number, length: number): boolean =>
    length === wanted.length && wanted.every((b, i) => out[at + i] === b);
  let patched = 0;
  for (let i = 0; i + 46 <= out.length; i++) {
    const signature = view.getUint32(i, true);
    if (signature === 0x04034b50 && nameAt(i + 30, view.getUint16(i + 26, true))) {
      view.setUint32(i + 22, size, true);
      patched++;
    } else if (signature === 0x02014b50 && nameAt(i + 46, view.getUint16(i + 28, true))) {
      view.setUint32(i + 24, size, true);
      patched++;
    }
  }
  if (patched < 2) throw new Error(`patchDeclaredSize: ${name} not found in both headers`);
  return out;
}

/** A DOCX whose `word/document.xml` opens with the billion-laughs entity bomb in its DTD. */
export function makeBillionLaughsDocx(): Uint8Array {
  const entities = ['<!ENTITY lol "lol">'];
  for (let i = 1; i <= 9; i++) {
    const previous = i === 1 ? 'lol' : `lol${i - 1}`;
    entities.push(`<!ENTITY lol${i} "${`&${previous};`.repeat(10)}">`);
  }
  const doctype = `<!DOCTYPE lolz [${entities.join('')}]>`;
  return zipSync(docxParts(strToU8(wordDocumentXml('<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>', doctype))));
}

/** A DOCX whose every entry is flagged encrypted (ZipCrypto's general-purpose bit 0), as a password-protected zip is. */
export function makeEncryptedEntryDocx(): Uint8Array {
  // Deflated, not stored: for a stored entry the directory's sizes would have to account for the cipher header.
  const zip = zipSync(docxParts(strToU8(wordDocumentXml('<w:p><w:r><w:t>secret</w:t></w:r></w:p>'))), {
    level: 6,
  });
  const out = zip.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i + 4 <= out.length; i++) {
    const signature = view.getUint32(i, true);
    if (signature === 0x04034b50) view.setUint16(i + 6, view.getUint16(i + 6, true) | 1, true);
    else if (signature === 0x02014b50) view.setUint16(i + 8, view.getUint16(i + 8, true) | 1, true);
  }
  return out;
}

/** A ZIP of many tiny entries (for the entry-count limit) with the given name prefix. */
export function makeManyEntryZip(count: number, main: Zippable = {}): Uint8Array {
  const files: Zippable = { ...main };
  for (let i = 0; i < count; i++) files[`filler/${i}.txt`] = strToU8('x');
  return zipSync(files, { level: 0 });
}

/** A hand-made DOCX from a `<w:body>` fragment (WordprocessingML). */
export function makeRawDocx(body: string): Uint8Array {
  return zipSync(docxParts(strToU8(wordDocumentXml(body))));
}

// ---------------------------------------------------------------------------------------------------------------
// PPTX

export interface SlideSpec {
  /** Goes into the layout's title placeholder. */
  title?: string;
  body?: string[];
  bullets?: string[];
  notes?: string;
  table?: string[][];
}

/** A PowerPoint deck whose slides have a title placeholder, body text, bullets, a table and speaker notes. */
export async function makePptx(slides: SlideSpec[]): Promise<Uint8Array> {
  const pptx = new PptxGenJS();
  pptx.defineSlideMaster({
    title: 'TITLED',
    objects: [
      { placeholder: { options: { name: 'title', type: 'title', x: 0.5, y: 0.2, w: 9, h: 1 }, text: '' } },
    ],
  });
  for (const spec of slides) {
    const slide = pptx.addSlide({ masterName: 'TITLED' });
    if (spec.title !== undefined) slide.addText(spec.title, { placeholder: 'title' });
    let y = 1.3;
    for (const text of spec.body ?? []) {
      slide.addText(text, { x: 0.5, y, w: 9, h: 0.5 });
      y += 0.6;
    }
    if (spec.bullets !== undefined) {
      slide.addText(
        spec.bullets.map((text) => ({ text, options: { bullet: true } })),
        { x: 0.5, y, w: 9, h: 1 },
      );
      y += 1.1;
    }
    if (spec.table !== undefined) {
      slide.addTable(
        spec.table.map((row) => row.map((text) => ({ text }))),
        { x: 0.5, y, w: 8 },
      );
    }
    if (spec.notes !== undefined) slide.addNotes(spec.notes);
  }
  return u8((await pptx.write({ outputType: 'nodebuffer' })) as Buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// XLSX

export interface SheetSpec {
  name: string;
  /** exceljs cell values: strings, numbers, Dates, `{ formula, result }`, `{ richText }`, `{ text, hyperlink }`, `{ error }`. */
  rows: ExcelJS.CellValue[][];
}

/** An Excel workbook, one worksheet per spec, rows from A1 down. */
export async function makeXlsx(sheets: SheetSpec[]): Promise<Uint8Array> {
  const workbook = new ExcelJS.Workbook();
  // Fixed dates keep the output byte-identical across runs.
  workbook.created = new Date(Date.UTC(2024, 0, 1));
  workbook.modified = workbook.created;
  for (const spec of sheets) {
    const sheet = workbook.addWorksheet(spec.name);
    spec.rows.forEach((values, r) => {
      values.forEach((value, c) => {
        if (value === null || value === undefined) return;
        const cell = sheet.getCell(r + 1, c + 1);
        cell.value = value;
        if (value instanceof Date) cell.numFmt = 'yyyy-mm-dd';
      });
    });
  }
  return u8(await workbook.xlsx.writeBuffer());
}

// ---------------------------------------------------------------------------------------------------------------
// OpenDocument

const ODF_NAMESPACES = [
  'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"',
  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"',
  'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"',
  'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"',
  'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"',
  'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"',
  'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"',
  'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"',
  'xmlns:dc="http://purl.org/dc/elements/1.1/"',
  'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"',
].join(' ');

const ODF_MIME = {
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
} as const;

function odfPackage(kind: keyof typeof ODF_MIME, body: string, title?: string): Uint8Array {
  const mime = ODF_MIME[kind];
  const content =
    `<?xml version="1.0" encoding="UTF-8"?><office:document-content ${ODF_NAMESPACES} office:version="1.3">` +
    // A bullet list style: without a visible one, readers take a list for layout (as Impress does) and flatten it.
    '<office:automatic-styles><text:list-style style:name="L1">' +
    '<text:list-level-style-bullet text:level="1" text:bullet-char="•"/></text:list-style></office:automatic-styles>' +
    `<office:body>${body}</office:body></office:document-content>`;
  const meta =
    `<?xml version="1.0" encoding="UTF-8"?><office:document-meta ${ODF_NAMESPACES} office:version="1.3">` +
    `<office:meta>${title !== undefined ? `<dc:title>${xmlEscape(title)}</dc:title>` : ''}</office:meta></office:document-meta>`;
  const manifest =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">' +
    `<manifest:file-entry manifest:full-path="/" manifest:media-type="${mime}"/>` +
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>' +
    '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>' +
    '</manifest:manifest>';
  // ODF requires `mimetype` first and stored, so its bytes can be read at a fixed offset.
  return zipSync({
    mimetype: [strToU8(mime), { level: 0 }],
    'content.xml': strToU8(content),
    'meta.xml': strToU8(meta),
    'META-INF/manifest.xml': strToU8(manifest),
  });
}

/**
 * A password-protected OpenDocument text as LibreOffice writes one: the manifest describes how content.xml is
 * encrypted (`manifest:encryption-data`), and content.xml itself is ciphertext.
 */
export function makeEncryptedOdt(): Uint8Array {
  const mime = ODF_MIME.odt;
  const manifest =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">' +
    `<manifest:file-entry manifest:full-path="/" manifest:media-type="${mime}"/>` +
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1024">' +
    '<manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k" manifest:checksum="AAAA">' +
    '<manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc" manifest:initialisation-vector="AAAA"/>' +
    '<manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32" manifest:iteration-count="100000" manifest:salt="AAAA"/>' +
    '</manifest:encryption-data></manifest:file-entry></manifest:manifest>';
  const ciphertext = new Uint8Array(1024);
  for (let i = 0; i < ciphertext.length; i++) ciphertext[i] = (i * 151 + 7) % 256;
  return zipSync({
    mimetype: [strToU8(mime), { level: 0 }],
    'content.xml': [ciphertext, { level: 0 }],
    'META-INF/manifest.xml': strToU8(manifest),
  });
}

export type OdtBlock =
  { heading: string; level?: number } | { paragraph: string } | { list: string[] } | { table: string[][] };

function odfParagraphs(lines: readonly string[]): string {
  return lines.map((line) => `<text:p>${xmlEscape(line)}</text:p>`).join('');
}

function odfTable(rows: readonly (readonly string[])[], name: string): string {
  const cells = (row: readonly string[]): string =>
    row
      .map((cell) => {
        const number = cell.trim() !== '' && !Number.isNaN(Number(cell));
        const type = number
          ? `office:value-type="float" office:value="${Number(cell)}"`
          : 'office:value-type="string"';
        return `<table:table-cell ${type}><text:p>${xmlEscape(cell)}</text:p></table:table-cell>`;
      })
      .join('');
  return (
    `<table:table table:name="${xmlEscape(name)}">` +
    rows.map((row) => `<table:table-row>${cells(row)}</table:table-row>`).join('') +
    '</table:table>'
  );
}

/** An OpenDocument text with outline headings, paragraphs, lists and tables. */
export function makeOdt(spec: { title?: string; blocks: OdtBlock[] }): Uint8Array {
  let tables = 0;
  const body = spec.blocks
    .map((block) => {
      if ('heading' in block) {
        return `<text:h text:outline-level="${block.level ?? 1}">${xmlEscape(block.heading)}</text:h>`;
      }
      if ('paragraph' in block) return odfParagraphs([block.paragraph]);
      if ('list' in block) {
        return `<text:list text:style-name="L1">${block.list.map((item) => `<text:list-item>${odfParagraphs([item])}</text:list-item>`).join('')}</text:list>`;
      }
      return odfTable(block.table, `Table${++tables}`);
    })
    .join('');
  return odfPackage('odt', `<office:text>${body}</office:text>`, spec.title);
}

/** An OpenDocument spreadsheet, one table per sheet (cells that parse as numbers are typed as floats). */
export function makeOds(sheets: { name: string; rows: string[][] }[]): Uint8Array {
  const body = sheets.map((sheet) => odfTable(sheet.rows, sheet.name)).join('');
  return odfPackage('ods', `<office:spreadsheet>${body}</office:spreadsheet>`);
}

/** An OpenDocument presentation: title frames, outline (bulleted) frames and speaker notes. */
export function makeOdp(
  slides: { title?: string; bullets?: string[]; body?: string[]; notes?: string }[],
): Uint8Array {
  const frame = (cls: string, inner: string): string =>
    `<draw:frame presentation:class="${cls}" svg:x="1cm" svg:y="1cm" svg:width="20cm" svg:height="3cm"><draw:text-box>${inner}</draw:text-box></draw:frame>`;
  const pages = slides
    .map((slide, i) => {
      const parts: string[] = [];
      if (slide.title !== undefined) parts.push(frame('title', odfParagraphs([slide.title])));
      if (slide.bullets !== undefined) {
        const items = slide.bullets
          .map((b) => `<text:list-item>${odfParagraphs([b])}</text:list-item>`)
          .join('');
        parts.push(frame('outline', `<text:list text:style-name="L1">${items}</text:list>`));
      }
      if (slide.body !== undefined) parts.push(frame('text', odfParagraphs(slide.body)));
      if (slide.notes !== undefined) {
        parts.push(
          `<presentation:notes>${frame('notes', odfParagraphs([slide.notes]))}</presentation:notes>`,
        );
      }
      return `<draw:page draw:name="page${i + 1}">${parts.join('')}</draw:page>`;
    })
    .join('');
  return odfPackage('odp', `<office:presentation>${pages}</office:presentation>`);
}

// ---------------------------------------------------------------------------------------------------------------
// RTF

export type RtfBlock = { heading: string; level?: number } | { paragraph: string };

function rtfEscape(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '\\' || char === '{' || char === '}') out += `\\${char}`;
    else if (code < 0x80) out += char;
    else if (code <= 0xffff) out += `\\u${code > 0x7fff ? code - 0x10000 : code}?`;
    else out += '?';
  }
  return out;
}

/** An RTF document whose headings use the `heading N` paragraph styles (`\sN`). */
export function makeRtf(spec: { title?: string; blocks: RtfBlock[] }): Uint8Array {
  const styles = [1, 2, 3].map((n) => `{\\s${n} heading ${n};}`).join('');
  const info = spec.title !== undefined ? `{\\info{\\title ${rtfEscape(spec.title)}}}` : '';
  const body = spec.blocks
    .map((block) => {
      if ('heading' in block) {
        const level = block.level ?? 1;
        return `{\\pard\\s${level}\\b\\fs${36 - level * 4} ${rtfEscape(block.heading)}\\par}`;
      }
      return `{\\pard\\s0\\fs24 ${rtfEscape(block.paragraph)}\\par}`;
    })
    .join('\n');
  return strToU8(
    `{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}{\\stylesheet{\\s0 Normal;}${styles}}${info}\n${body}\n}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// E-mail

export interface EmlAttachment {
  filename?: string;
  content: string | Uint8Array;
  contentType?: string;
  /** Makes it an inline part the HTML body can reference as `cid:<cid>`. */
  cid?: string;
}

export interface EmlSpec {
  subject: string;
  from?: string;
  to?: string;
  cc?: string;
  date?: Date;
  text?: string;
  html?: string;
  attachments?: EmlAttachment[];
}

/** An RFC 5322 message built by nodemailer's MailComposer (multipart when it has an HTML part or attachments). */
export async function makeEml(spec: EmlSpec): Promise<Uint8Array> {
  const composer = new MailComposer({
    from: spec.from ?? 'Ann Sender <ann@example.org>',
    to: spec.to ?? 'Bob Receiver <bob@example.org>',
    ...(spec.cc !== undefined ? { cc: spec.cc } : {}),
    subject: spec.subject,
    date: spec.date ?? new Date(Date.UTC(2024, 2, 1, 10, 30)),
    messageId: '<fixture@example.org>',
    ...(spec.text !== undefined ? { text: spec.text } : {}),
    ...(spec.html !== undefined ? { html: spec.html } : {}),
    attachments: (spec.attachments ?? []).map((a) => ({
      ...(a.filename !== undefined ? { filename: a.filename } : {}),
      content: typeof a.content === 'string' ? a.content : Buffer.from(a.content),
      ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
      ...(a.cid !== undefined ? { cid: a.cid } : {}),
    })),
  });
  const message = await composer.compile().build();
  return u8(message);
}

/**
 * An e-mail whose attachment is an e-mail whose attachment is an e-mail …, `depth` messages in all (depth 1 is a
 * plain message). Level n's subject is `Level n`, its text `Body of level n`, its attachment `level-(n+1).eml`.
 */
export async function makeNestedEml(depth: number): Promise<Uint8Array> {
  let inner: Uint8Array | null = null;
  for (let level = depth; level >= 1; level--) {
    const attachments: EmlAttachment[] =
      inner === null
        ? []
        : [{ filename: `level-${level + 1}.eml`, content: inner, contentType: 'message/rfc822' }];
    inner = await makeEml({ subject: `Level ${level}`, text: `Body of level ${level}`, attachments });
  }
  if (inner === null) throw new Error('makeNestedEml: depth must be at least 1');
  return inner;
}

// ---------------------------------------------------------------------------------------------------------------
// EPUB

export interface EpubChapter {
  /** The chapter's <h1>; also its TOC entry. */
  title?: string;
  /** A TOC entry different from the heading (or for a chapter without one). */
  tocTitle?: string;
  paragraphs: string[];
}

export interface EpubSpec {
  title: string;
  chapters: EpubChapter[];
  /** Lists the first chapter in META-INF/encryption.xml, as DRM does. */
  encryptChapters?: boolean;
  /** Lists an obfuscated font in META-INF/encryption.xml (IDPF font obfuscation, not DRM). */
  obfuscatedFont?: boolean;
  /** Uses HTML named entities and self-closing tags the XML way, as real EPUB 2 books do. */
  xhtmlQuirks?: boolean;
}

/** An EPUB 3 book with an NCX too: container, OPF (manifest, spine), nav document and one XHTML file per chapter. */
export function makeEpub(spec: EpubSpec): Uint8Array {
  const chapterFile = (i: number): string => `text/chapter${i + 1}.xhtml`;
  const files: Zippable = {
    mimetype: [strToU8('application/epub+zip'), { level: 0 }],
    'META-INF/container.xml': strToU8(
      '<?xml version="1.0" encoding="UTF-8"?>' +
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">' +
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>' +
        '</container>',
    ),
  };
  const encrypted: string[] = [];
  if (spec.encryptChapters === true) encrypted.push(`OEBPS/${chapterFile(0)}`);
  if (spec.obfuscatedFont === true) {
    files['OEBPS/fonts/font.otf'] = strToU8('not really a font');
  }
  if (encrypted.length > 0 || spec.obfuscatedFont === true) {
    const data = (uri: string, algorithm: string): string =>
      `<enc:EncryptedData><enc:EncryptionMethod Algorithm="${algorithm}"/>` +
      `<enc:CipherData><enc:CipherReference URI="${uri}"/></enc:CipherData></enc:EncryptedData>`;
    files['META-INF/encryption.xml'] = strToU8(
      '<?xml version="1.0" encoding="UTF-8"?>' +
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">' +
        encrypted.map((uri) => data(uri, 'http://www.w3.org/2001/04/xmlenc#aes128-cbc')).join('') +
        (spec.obfuscatedFont === true
          ? data('OEBPS/fonts/font.otf', 'http://www.idpf.org/2008/embedding')
          : '') +
        '</encryption>',
    );
  }
  const tocTitle = (c: EpubChapter, i: number): string => c.tocTitle ?? c.title ?? `Chapter ${i + 1}`;
  const manifest = spec.chapters
    .map((_, i) => `<item id="c${i + 1}" href="${chapterFile(i)}" media-type="application/xhtml+xml"/>`)
    .join('');
  const spine = spec.chapters.map((_, i) => `<itemref idref="c${i + 1}"/>`).join('');
  files['OEBPS/content.opf'] = strToU8(
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">' +
      '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">' +
      `<dc:identifier id="uid">urn:uuid:fixture</dc:identifier><dc:title>${xmlEscape(spec.title)}</dc:title>` +
      '<dc:language>en</dc:language></metadata>' +
      '<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>' +
      '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>' +
      (spec.obfuscatedFont === true ? '<item id="font" href="fonts/font.otf" media-type="font/otf"/>' : '') +
      `${manifest}</manifest>` +
      `<spine toc="ncx"><itemref idref="nav" linear="no"/>${spine}</spine></package>`,
  );
  files['OEBPS/nav.xhtml'] = strToU8(
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html>' +
      '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head>' +
      '<body><nav epub:type="toc"><h1>Contents</h1><ol>' +
      spec.chapters
        .map((c, i) => `<li><a href="${chapterFile(i)}">${xmlEscape(tocTitle(c, i))}</a></li>`)
        .join('') +
      '</ol></nav></body></html>',
  );
  files['OEBPS/toc.ncx'] = strToU8(
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" "http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">' +
      '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>' +
      spec.chapters
        .map(
          (c, i) =>
            `<navPoint id="n${i + 1}" playOrder="${i + 1}"><navLabel><text>${xmlEscape(tocTitle(c, i))}</text></navLabel>` +
            `<content src="${chapterFile(i)}"/></navPoint>`,
        )
        .join('') +
      '</navMap></ncx>',
  );
  spec.chapters.forEach((chapter, i) => {
    const doctype =
      spec.xhtmlQuirks === true
        ? '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">'
        : '<!DOCTYPE html>';
    const paragraph = (text: string): string =>
      spec.xhtmlQuirks === true
        ? `<p><a id="p${i}"/>${xmlEscape(text).replace(/ /, '&nbsp;')}</p>`
        : `<p>${xmlEscape(text)}</p>`;
    files[`OEBPS/${chapterFile(i)}`] = strToU8(
      `<?xml version="1.0" encoding="UTF-8"?>${doctype}` +
        `<html xmlns="http://www.w3.org/1999/xhtml"><head><title>${xmlEscape(tocTitle(chapter, i))}</title></head><body>` +
        (chapter.title !== undefined ? `<h1>${xmlEscape(chapter.title)}</h1>` : '') +
        chapter.paragraphs.map(paragraph).join('') +
        '</body></html>',
    );
  });
  return zipSync(files);
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

export interface HtmlArticleSpec {
  title: string;
  /** The page's <title>; defaults to `${title} | Example News`. */
  pageTitle?: string;
  paragraphs: string[];
  /** A subheading before the last paragraph. */
  subheading?: string;
  /** Declared in a meta tag; the bytes are encoded to match (utf-8 or windows-1252/latin1 only). */
  charset?: 'utf-8' | 'windows-1252';
}

/** The nav menu, ad, cookie banner and footer texts `makeHtmlArticle` surrounds the article with. */
export const HTML_CHROME_TEXTS = {
  nav: 'Home Politics Sports Weather Subscribe',
  ad: 'Buy cheap watches now',
  cookie: 'We use cookies to improve your experience',
  footer: 'Copyright Example News Ltd',
} as const;

/** A news page: a nav menu, an article, a sidebar with ads, a cookie banner and a footer, plus a script. */
export function makeHtmlArticle(spec: HtmlArticleSpec): Uint8Array {
  const esc = xmlEscape;
  const paragraphs = spec.paragraphs.map((p) => `<p>${esc(p)}</p>`);
  if (spec.subheading !== undefined && paragraphs.length > 1) {
    paragraphs.splice(paragraphs.length - 1, 0, `<h2>${esc(spec.subheading)}</h2>`);
  }
  const charset = spec.charset ?? 'utf-8';
  const html =
    '<!DOCTYPE html>\n<html lang="en"><head>' +
    `<meta charset="${charset}">` +
    `<title>${esc(spec.pageTitle ?? `${spec.title} | Example News`)}</title>` +
    '<script>window.dataLayer = [{"event": "tracking-script-text"}];</script>' +
    '<style>.ad { color: red }</style></head><body>' +
    '<header class="site-header"><a href="/">Example News</a>' +
    `<nav class="menu"><ul>${HTML_CHROME_TEXTS.nav
      .split(' ')
      .map((item) => `<li><a href="/${item.toLowerCase()}">${item}</a></li>`)
      .join('')}</ul></nav></header>` +
    `<div class="cookie-banner" id="cookie-consent"><p>${HTML_CHROME_TEXTS.cookie}.</p><button>Accept</button></div>` +
    '<div class="layout"><main><article class="post">' +
    `<h1>${esc(spec.title)}</h1><p class="byline">By A. Reporter</p>` +
    paragraphs.join('\n') +
    '</article></main>' +
    `<aside class="sidebar"><div class="ad sponsored"><p>${HTML_CHROME_TEXTS.ad}!</p></div>` +
    '<ul class="related"><li><a href="/a">Related story one</a></li><li><a href="/b">Related story two</a></li></ul></aside></div>' +
    `<footer class="site-footer"><p>${HTML_CHROME_TEXTS.footer}</p><a href="/privacy">Privacy</a></footer>` +
    '</body></html>\n';
  return charset === 'utf-8' ? strToU8(html) : new Uint8Array(Buffer.from(html, 'latin1'));
}

// ---------------------------------------------------------------------------------------------------------------
// OLE2 (compound file binary)

/**
 * A minimal OLE2 compound file (version 3, 512-byte sectors): a header, one FAT sector and one directory sector
 * holding a root entry and the named streams (all empty). Enough for the directory to name what the file holds:
 * `EncryptedPackage` and `EncryptionInfo` make it an encrypted OOXML document, `WordDocument` a legacy .doc.
 */
export function makeOle2(streams: string[]): Uint8Array {
  const SECTOR = 512;
  const entries = ['Root Entry', ...streams];
  const directorySectors = Math.ceil(entries.length / 4);
  const out = new Uint8Array(SECTOR * (2 + directorySectors));
  const view = new DataView(out.buffer);
  out.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], 0);
  view.setUint16(24, 0x3e, true); // minor version
  view.setUint16(26, 3, true); // major version 3
  view.setUint16(28, 0xfffe, true); // little-endian
  view.setUint16(30, 9, true); // 2^9 = 512-byte sectors
  view.setUint16(32, 6, true); // 64-byte mini sectors
  view.setUint32(44, 1, true); // one FAT sector
  view.setUint32(48, 1, true); // directory starts at sector 1
  view.setUint32(56, 4096, true); // mini stream cutoff
  view.setUint32(60, 0xfffffffe, true); // no mini FAT
  view.setUint32(68, 0xfffffffe, true); // no DIFAT sectors
  view.setUint32(76, 0, true); // DIFAT[0]: the FAT is sector 0
  for (let i = 1; i < 109; i++) view.setUint32(76 + i * 4, 0xffffffff, true);
  // FAT (sector 0, at file offset 512): sector 0 is the FAT, then the directory chain.
  const fat = SECTOR;
  for (let i = 0; i < SECTOR / 4; i++) view.setUint32(fat + i * 4, 0xffffffff, true);
  view.setUint32(fat, 0xfffffffd, true);
  for (let s = 1; s <= directorySectors; s++) {
    view.setUint32(fat + s * 4, s === directorySectors ? 0xfffffffe : s + 1, true);
  }
  entries.forEach((name, i) => {
    const at = 2 * SECTOR + i * 128;
    const units = Math.min(name.length, 31);
    for (let c = 0; c < units; c++) view.setUint16(at + c * 2, name.charCodeAt(c), true);
    view.setUint16(at + 64, (units + 1) * 2, true);
    out[at + 66] = i === 0 ? 5 : 2; // root storage, or stream
    out[at + 67] = 1; // black
    view.setUint32(at + 68, 0xffffffff, true); // left sibling
    // Streams chained as right siblings of one another: a valid (if unbalanced) red-black tree.
    view.setUint32(at + 72, i > 0 && i < entries.length - 1 ? i + 1 : 0xffffffff, true);
    view.setUint32(at + 76, i === 0 && entries.length > 1 ? 1 : 0xffffffff, true); // child
    view.setUint32(at + 116, 0xfffffffe, true); // start sector
  });
  return out;
}
