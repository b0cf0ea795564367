import { assemblePdf, makeTestPdf, onePageObjects, streamObject } from '@quarry/testing';
import iconv from 'iconv-lite';
import { crc32, gzipSync } from 'node:zlib';

// Byte makers for the bad-input corpus. Everything is generated, deterministic and small; nothing is read
// from disk, so a case is one line in the table and its bytes are visible where it is declared.

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export const concat = (...parts: (Uint8Array | string)[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));

/** A valid 1×1 grey PNG (signature, IHDR, IDAT, IEND). */
export const PNG_1X1 = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010800000000' +
    '3a7e9b550000000a49444154789c63600000000200015a4b8e0a0000000049454e44ae426082',
  'hex',
);

/** The start of a JFIF file: SOI, APP0 with the JFIF tag, then a quantisation table marker. */
export const JPEG_HEAD = concat(
  Buffer.from('ffd8ffe000104a46494600010100000100010000ffdb004300', 'hex'),
  Buffer.alloc(64, 0x10),
  Buffer.from('ffd9', 'hex'),
);

/** A little-endian TIFF header pointing at an empty IFD. */
export const TIFF_HEAD = Buffer.from('49492a00080000000000', 'hex');

/** The first bytes of an x86-64 ELF executable: magic, class, data, version, ABI, type, machine, then zeros. */
export const ELF_HEAD = concat(
  Buffer.from('7f454c4602010100000000000000000002003e0001000000', 'hex'),
  Buffer.alloc(232, 0),
);

/** Pseudo-random bytes from a fixed seed (xorshift32), so a failure reproduces byte for byte. */
export function garbage(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A stored (uncompressed) zip archive with a correct central directory. */
export function zip(entries: Record<string, string>): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(text, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, directory, end]));
}

/** What Word writes first: the content types, then the main document part. */
export const DOCX_LIKE = zip({
  '[Content_Types].xml':
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
  'word/document.xml':
    '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">' +
    '<w:body><w:p><w:r><w:t>Quarterly minutes</w:t></w:r></w:p></w:body></w:document>',
});

export const gzip = (text: string): Uint8Array => new Uint8Array(gzipSync(Buffer.from(text, 'utf8')));

export const utf16le = (text: string): Uint8Array =>
  concat(Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le'));

export const utf16be = (text: string): Uint8Array =>
  concat(Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16());

export const encode = (text: string, encoding: string): Uint8Array =>
  new Uint8Array(iconv.encode(text, encoding));

/** A text-layer PDF, one inner array of lines per page (pdf-lib: object and cross-reference streams). */
export const textPdf = (pages: string[][]): Promise<Uint8Array> => makeTestPdf(pages);

const escapePdf = (s: string): string => s.replace(/[()\\]/g, '\\$&');

/**
 * A classic PDF (plain xref table, uncompressed content) with one line of text per page, so truncating it at
 * a given fraction cuts through objects, the xref table or the trailer in a predictable way.
 */
export function classicPdf(lines: string[]): Uint8Array {
  const n = lines.length;
  const kids = lines.map((_, i) => `${4 + 2 * i} 0 R`).join(' ');
  const objects: Buffer[] = [
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>', 'latin1'),
    Buffer.from(`<< /Type /Pages /Kids [${kids}] /Count ${n} >>`, 'latin1'),
    Buffer.from(
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
      'latin1',
    ),
  ];
  lines.forEach((line, i) => {
    objects.push(
      Buffer.from(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${5 + 2 * i} 0 R ` +
          '/Resources << /Font << /F1 3 0 R >> >> >>',
        'latin1',
      ),
      streamObject(Buffer.from(`BT /F1 12 Tf 72 720 Td (${escapePdf(line)}) Tj ET`, 'latin1')),
    );
  });
  return assemblePdf(objects);
}

/** The first `fraction` of the bytes. */
export const cut = (bytes: Uint8Array, fraction: number): Uint8Array =>
  bytes.slice(0, Math.floor(bytes.length * fraction));

function xrefAt(pdf: Uint8Array): { text: string; xref: number; trailer: number } {
  const text = Buffer.from(pdf).toString('latin1');
  const xref = text.lastIndexOf('\nxref\n');
  const trailer = text.lastIndexOf('trailer');
  if (xref < 0 || trailer < xref) throw new Error('not a classic PDF: no xref table and trailer');
  return { text, xref: xref + 1, trailer };
}

/** Everything before the cross-reference table: no xref, no trailer, no startxref, no %%EOF. */
export function withoutXrefAndTrailer(pdf: Uint8Array): Uint8Array {
  return pdf.slice(0, xrefAt(pdf).xref);
}

/** The xref table cut out; the trailer (and its /Root) kept, with a startxref that now points nowhere. */
export function withoutXrefTable(pdf: Uint8Array): Uint8Array {
  const { text, xref, trailer } = xrefAt(pdf);
  return new Uint8Array(Buffer.from(text.slice(0, xref) + text.slice(trailer), 'latin1'));
}

/** Intact but for a startxref offset beyond the end of the file. */
export function withBadStartxref(pdf: Uint8Array): Uint8Array {
  const text = Buffer.from(pdf)
    .toString('latin1')
    .replace(/startxref\n\d+/, 'startxref\n99999999');
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** One page that paints a 2×2 grey image and has no text layer at all (what a scanner produces). */
export function imageOnlyPdf(): Uint8Array {
  return assemblePdf([
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>', 'latin1'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>', 'latin1'),
    Buffer.from(
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R ' +
        '/Resources << /XObject << /Im1 5 0 R >> >> >>',
      'latin1',
    ),
    streamObject(Buffer.from('q 400 0 0 400 100 200 cm /Im1 Do Q', 'latin1')),
    streamObject(
      Buffer.from([0x00, 0xff, 0xff, 0x00]),
      '/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8 ',
    ),
  ]);
}

/** A well-formed document whose page tree is empty. */
export function zeroPagePdf(): Uint8Array {
  return assemblePdf([
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>', 'latin1'),
    Buffer.from('<< /Type /Pages /Kids [] /Count 0 >>', 'latin1'),
  ]);
}

/**
 * `count` pages sharing one content stream of `runs` text runs: under a megabyte to send, slow to walk page
 * by page (pdf.js gets through 1200 to 2000 pages of 500 runs in 6 to 20 s here).
 */
export function manyPagePdf(count: number, runs = 500): Uint8Array {
  const kids = Array.from({ length: count }, (_, i) => `${i + 3} 0 R`).join(' ');
  const [catalog, , pageTemplate, content, font] = onePageObjects(
    streamObject(Buffer.from(`BT /F1 12 Tf 72 720 Td ${'(p) Tj 0.5 0 Td '.repeat(runs)}ET`, 'latin1')),
  ).map((b) => b.toString('latin1'));
  // onePageObjects numbers its content 4 and its font 5; here pages start at 3, so those move to the end.
  const contentRef = count + 3;
  const fontRef = count + 4;
  const page = (pageTemplate ?? '')
    .replace('/Contents 4 0 R', `/Contents ${contentRef} 0 R`)
    .replace('/F1 5 0 R', `/F1 ${fontRef} 0 R`);
  return assemblePdf([
    Buffer.from(catalog ?? '', 'latin1'),
    Buffer.from(`<< /Type /Pages /Kids [${kids}] /Count ${count} >>`, 'latin1'),
    ...Array.from({ length: count }, () => Buffer.from(page, 'latin1')),
    Buffer.from(content ?? '', 'latin1'),
    Buffer.from(font ?? '', 'latin1'),
  ]);
}
