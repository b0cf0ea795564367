import { constants, deflateRawSync, deflateSync } from 'node:zlib';

/**
 * Assembles a classic (xref-table) PDF from object bodies numbered 1..n, for fixtures pdf-lib cannot make.
 * Object 1 must be the catalog.
 */
export function assemblePdf(objects: readonly Buffer[], trailerExtra = ''): Uint8Array {
  const header = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1');
  const parts: Buffer[] = [header];
  let length = header.length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(length);
    const obj = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`, 'latin1'),
      body,
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    parts.push(obj);
    length += obj.length;
  });
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f ',
    ...offsets.map((off) => `${String(off).padStart(10, '0')} 00000 n `),
    'trailer',
    `<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra}>>`,
    'startxref',
    String(length),
    '%%EOF',
    '',
  ].join('\n');
  parts.push(Buffer.from(xref, 'latin1'));
  return new Uint8Array(Buffer.concat(parts));
}

export function streamObject(data: Buffer, dictionary = ''): Buffer {
  return Buffer.concat([
    Buffer.from(`<< /Length ${data.length} ${dictionary}>>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream', 'latin1'),
  ]);
}

/** Objects 1–3 and 5 of a one-page document whose content stream is object 4, with Helvetica as /F1. */
export function onePageObjects(contentStream: Buffer): Buffer[] {
  return [
    Buffer.from('<< /Type /Catalog /Pages 2 0 R >>', 'latin1'),
    Buffer.from('<< /Type /Pages /Kids [3 0 R] /Count 1 >>', 'latin1'),
    Buffer.from(
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
      'latin1',
    ),
    contentStream,
    Buffer.from(
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
      'latin1',
    ),
  ];
}

/**
 * A few kilobytes of compressed PDF whose single page holds `items` separate tiny text runs laid out in a grid:
 * harmless to open, but its text content needs far more heap than its size suggests (a memory bomb for tests).
 */
export function makeTextItemBombPdf(items: number): Uint8Array {
  const perRow = 1200;
  const row = `${'0.5 0 Td (a) Tj '.repeat(perRow)}-600 -0.5 Td `;
  const content = `BT /F1 0.2 Tf 1 0 0 1 1 790 Tm ${row.repeat(Math.ceil(items / perRow))}ET`;
  const stream = streamObject(deflateSync(Buffer.from(content, 'latin1')), '/Filter /FlateDecode ');
  return assemblePdf(onePageObjects(stream));
}

/**
 * A one-page PDF whose content stream inflates to `decodedMb` MiB of spaces from about a thousandth of that: a
 * decompression bomb. The deflate data is one compressed MiB of spaces repeated (a full flush makes each copy
 * stand alone), with the checksum computed in closed form, so even a gigabyte bomb takes milliseconds to make.
 */
export function makeDeflateBombPdf(decodedMb: number): Uint8Array {
  const mib = 1024 * 1024;
  const block = deflateRawSync(Buffer.alloc(mib, 0x20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const final = deflateRawSync(Buffer.alloc(0));
  // Adler-32 of n bytes of value c: A = 1 + c·n, B = n + c·n(n+1)/2, both mod 65521.
  const n = BigInt(decodedMb) * BigInt(mib);
  const a = (1n + 32n * n) % 65521n;
  const b = (n + (32n * n * (n + 1n)) / 2n) % 65521n;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(Number((b << 16n) | a));
  const zlibStream = Buffer.concat([
    Buffer.from([0x78, 0xda]),
    ...Array.from({ length: decodedMb }, () => block),
    final,
    adler,
  ]);
  return assemblePdf(onePageObjects(streamObject(zlibStream, '/Filter /FlateDecode ')));
}
