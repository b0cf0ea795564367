import {
  DETECT_HEAD_BYTES,
  describeType,
  detectFileType,
  detectType,
  looksLikeEmail,
  looksLikeMarkdown,
} from './detect-type';
import {
  makeDocx,
  makeEml,
  makeEpub,
  makeOdp,
  makeOds,
  makeOdt,
  makeOle2,
  makePptx,
  makeRtf,
  makeTestPdf,
  makeXlsx,
} from '@quarry/test-kit';
import { strToU8, zipSync } from 'fflate';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeScratch, scratchDir } from './formats/__fixtures__/parse-fixture';

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** Deterministic noise, so a failure reproduces. */
function garbage(length: number, seed = 42): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/** A stored (uncompressed) zip local file header followed by its data. */
function zipEntry(name: string, data: string): Uint8Array {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(name.length, 26);
  return concat(header, ascii(name), ascii(data));
}

describe('detectType', () => {
  let pdf: Uint8Array;
  beforeAll(async () => {
    pdf = await makeTestPdf([['A line of text.']]);
  });

  it('detects a PDF, also behind junk that readers skip', () => {
    expect(detectType(pdf)).toBe('pdf');
    expect(detectType(concat(ascii('HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n'), pdf))).toBe(
      'pdf',
    );
    expect(detectType(concat(new Uint8Array(128), pdf))).toBe('pdf');
  });

  it('does not look for a PDF header past the first 1024 bytes', () => {
    expect(detectType(concat(new Uint8Array(1100), pdf))).toBe('unknown');
  });

  it('keeps text that merely mentions a PDF header as text', () => {
    expect(detectType(ascii('Acrobat writes %PDF-1.7 at the start of every file.\n'))).toBe('text');
  });

  it('judges by content, never by the file name', () => {
    expect(detectType(ascii('Just a note, nothing more.\n'), 'report.pdf')).toBe('text');
    expect(detectType(pdf, 'notes.txt')).toBe('pdf');
    expect(detectType(garbage(2000), 'readme.md')).toBe('unknown');
  });

  it.each([
    ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]],
    ['jpeg', [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]],
    ['tiff', [0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]],
    ['tiff', [0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]],
  ])('detects %s by its magic bytes', (type, magic) => {
    expect(detectType(concat(new Uint8Array(magic), garbage(500)))).toBe(type);
  });

  it('calls a zip docx only when a Word part is visible, and any other zip a zip', () => {
    const docx = concat(
      zipEntry('[Content_Types].xml', '<Types/>'),
      zipEntry('_rels/.rels', '<Relationships/>'),
      zipEntry('word/document.xml', '<w:document/>'),
    );
    expect(detectType(docx)).toBe('docx');
    expect(
      detectType(concat(zipEntry('[Content_Types].xml', '<Types/>'), zipEntry('word/styles.xml', '<s/>'))),
    ).toBe('docx');
    expect(
      detectType(concat(zipEntry('photo.jpg', 'xx'), zipEntry('notes.txt', 'hello')), 'report.docx'),
    ).toBe('zip');
  });

  it.each([
    ['<!DOCTYPE html>\n<html><body>Hi</body></html>'],
    ['\uFEFF  \n\t<!doctype HTML><title>x</title>'],
    ['<HTML lang="en"><body>Hi</body></HTML>'],
    ['<?xml version="1.0"?>\n<!-- generated -->\n<html><body>x</body></html>'],
  ])('detects HTML: %j', (source) => {
    expect(detectType(utf8(source))).toBe('html');
  });

  it('treats an HTML fragment without <html> or a doctype as text', () => {
    expect(detectType(utf8('<div>Hello</div>\n'))).toBe('text');
  });

  it('tells Markdown from text by content', () => {
    expect(detectType(utf8('# Title\n\nSome intro.\n\n- one\n- two\n'))).toBe('markdown');
    expect(detectType(utf8('Example:\n\n```ts\nconst x = 1;\n```\n'))).toBe('markdown');
    expect(detectType(utf8('Dear team,\n\nthe meeting moved to Tuesday.\n- Ann\n'))).toBe('text');
  });

  it('lets the file name choose only between Markdown and text', () => {
    expect(detectType(utf8('Plain words only.\n'), 'README.md')).toBe('markdown');
    expect(detectType(utf8('# Title\n\n## Part\n\nText\n'), 'notes.txt')).toBe('text');
    expect(detectType(utf8('<!doctype html><p>x'), 'page.md')).toBe('html');
  });

  it('accepts UTF-16 with a BOM and legacy 8-bit text', () => {
    expect(detectType(new Uint8Array(Buffer.from('\uFEFFHello UTF-16 world\n', 'utf16le')))).toBe('text');
    const be = Buffer.from('\uFEFFHello big-endian\n', 'utf16le').swap16();
    expect(detectType(new Uint8Array(be))).toBe('text');
    expect(detectType(ascii('Stra\xdfe \xfcber \xd6l, caf\xe9 na\xefve.\n'))).toBe('text');
  });

  it('tolerates a multi-byte character cut at the end of the head', () => {
    const text = utf8('é'.repeat(DETECT_HEAD_BYTES));
    expect(detectType(text.subarray(0, DETECT_HEAD_BYTES - 1))).toBe('text');
    expect(detectType(text)).toBe('text');
  });

  it('says unknown for binary garbage, NUL bytes and empty input', () => {
    expect(detectType(garbage(DETECT_HEAD_BYTES))).toBe('unknown');
    expect(detectType(ascii('looks like text\0but has a NUL'))).toBe('unknown');
    expect(detectType(new Uint8Array(0))).toBe('unknown');
  });
});

describe('detectType: more formats', () => {
  afterAll(removeScratch);

  it.each([
    ['webp', concat(ascii('RIFF'), new Uint8Array([0x24, 0, 0, 0]), ascii('WEBPVP8 '))],
    ['gif', ascii('GIF89a\x01\x00\x01\x00\x80\x00\x00')],
    ['gif', ascii('GIF87a\x01\x00\x01\x00')],
    ['ole2', concat(new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), new Uint8Array(504))],
  ])('detects %s by its magic bytes', (type, bytes) => {
    expect(detectType(bytes)).toBe(type);
  });

  it('detects a BMP only with a sane header, so text starting "BM" stays text', () => {
    const header = Buffer.alloc(54);
    header.write('BM', 0, 'latin1');
    header.writeUInt32LE(54 + 4, 2);
    header.writeUInt32LE(54, 10);
    header.writeUInt32LE(40, 14);
    header.writeInt32LE(1, 18);
    header.writeInt32LE(1, 22);
    expect(detectType(concat(new Uint8Array(header), new Uint8Array(4)))).toBe('bmp');
    expect(detectType(ascii('BMW drivers club: minutes of the March meeting.\n'))).toBe('text');
  });

  it('detects RTF by its header, also in generated documents', () => {
    expect(detectType(makeRtf({ blocks: [{ paragraph: 'x' }] }))).toBe('rtf');
    expect(detectType(ascii('A note about {\\rtf1 files.\n'))).toBe('text');
  });

  it('tells Office Open XML, OpenDocument and EPUB packages apart from their heads', async () => {
    expect(detectType(await makeDocx({ sections: [{ paragraphs: ['x'] }] }))).toBe('docx');
    expect(detectType(await makePptx([{ title: 'x' }]))).toBe('pptx');
    expect(detectType((await makeXlsx([{ name: 's', rows: [['x']] }])).subarray(0, DETECT_HEAD_BYTES))).toBe(
      'xlsx',
    );
    expect(detectType(makeOdt({ blocks: [{ paragraph: 'x' }] }))).toBe('odt');
    expect(detectType(makeOds([{ name: 's', rows: [['x']] }]))).toBe('ods');
    expect(detectType(makeOdp([{ title: 'x' }]))).toBe('odp');
    expect(detectType(makeEpub({ title: 'b', chapters: [{ paragraphs: ['x'] }] }))).toBe('epub');
    expect(detectType(zipSync({ 'a.txt': strToU8('a') }))).toBe('zip');
  });

  it('reads the central directory when the head does not show what a zip holds', async () => {
    const dir = await scratchDir();
    const fillers: Record<string, Uint8Array> = {};
    for (let i = 0; i < 120; i++) fillers[`customXml/item${i}.xml`] = strToU8('<x/>'.repeat(10));
    const docx = zipSync({ ...fillers, 'word/document.xml': strToU8('<w:document/>') }, { level: 0 });
    const late = join(dir, 'late.docx');
    await writeFile(late, docx);
    expect(detectType(docx.subarray(0, DETECT_HEAD_BYTES))).toBe('zip');
    expect(await detectFileType(late)).toBe('docx');

    // A mimetype entry that is compressed, and not first, is still read.
    const odt = zipSync({
      'content.xml': strToU8('<office:document-content/>'),
      mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 9 }],
    });
    const odtPath = join(dir, 'odd.odt');
    await writeFile(odtPath, odt);
    expect(await detectFileType(odtPath)).toBe('odt');

    const plain = join(dir, 'plain.zip');
    await writeFile(plain, zipSync({ 'a.txt': strToU8('a') }));
    expect(await detectFileType(plain, 'x.docx')).toBe('zip');

    const text = join(dir, 'text.md');
    await writeFile(text, '# Heading\n\nBody\n');
    expect(await detectFileType(text, 'text.md')).toBe('markdown');
  });

  it('detects an e-mail by its header block', async () => {
    expect(detectType(await makeEml({ subject: 'Hi', text: 'Body' }))).toBe('eml');
    expect(
      detectType(
        ascii('Received: from mx.example.org\r\n  by mail.example.org;\r\nFrom: a@x\r\nTo: b@y\r\n\r\nhi'),
      ),
    ).toBe('eml');
    expect(detectType(ascii('Subject: meeting notes\n\nWe discussed the budget.\n'))).toBe('text');
    expect(detectType(ascii('From: me\nNotes for later: buy milk\n'))).toBe('text');
  });

  it('detects delimited data, with the file name breaking only a tie', () => {
    expect(detectType(ascii('id,name,score\n1,Ann,3\n2,Bob,4\n'))).toBe('csv');
    expect(detectType(ascii('id\tname\n1\tAnn\n2\tBob\n'))).toBe('csv');
    expect(detectType(ascii('a,b\n1,2\n'))).toBe('text');
    expect(detectType(ascii('a,b\n1,2\n'), 'data.csv')).toBe('csv');
    expect(detectType(ascii('one column\nno delimiter\n'), 'data.csv')).toBe('text');
    expect(detectType(ascii('id,name,score\n1,Ann,3\n2,Bob,4\n'), 'notes.txt')).toBe('text');
    expect(detectType(ascii('| a | b |\n|---|---|\n| 1 | 2 |\n'))).toBe('markdown');
  });
});

describe('looksLikeEmail', () => {
  it.each([
    ['From: a@x.org\nTo: b@y.org\nSubject: hi\n\nbody', true],
    ['From sender@x.org Mon Jan  1 00:00:00 2024\nFrom: a@x.org\nDate: Mon, 1 Jan 2024\n\nbody', true],
    ['Subject: hi\n  continued\nMessage-ID: <1@x>\n\n', true],
    ['Subject: hi\n\nbody', false],
    ['  indented first line\nFrom: a\nTo: b\n\n', false],
    ['From: a\nTo: b\nthis line is no header\n\n', false],
  ])('%j → %s', (text, expected) => {
    expect(looksLikeEmail(text)).toBe(expected);
  });
});

describe('describeType', () => {
  it('names detected types and common unsupported binaries', () => {
    expect(describeType('zip')).toBe('a ZIP archive');
    expect(describeType('ole2')).toBe('a legacy Microsoft Office (OLE2) document');
    expect(describeType('unknown', new Uint8Array([0x1f, 0x8b, 8, 0]))).toBe('gzip-compressed data');
    expect(describeType('unknown', ascii('\x7fELF\x02\x01\x01'))).toBe('an ELF executable');
    expect(describeType('unknown', ascii('ID3\x04\x00'))).toBe('an MP3 audio file');
    expect(describeType('unknown', ascii('\x00\x00\x00\x18ftypmp42'))).toBe('an MP4 video');
    expect(describeType('unknown', garbage(64))).toBe('a file of unrecognised type');
    expect(describeType('unknown')).toBe('a file of unrecognised type');
  });

  it('has the OLE2 fixture detected and described', () => {
    const ole = makeOle2(['WordDocument']);
    expect(detectType(ole)).toBe('ole2');
    expect(describeType(detectType(ole))).toContain('OLE2');
  });
});

describe('looksLikeMarkdown', () => {
  it.each([
    ['# One\n## Two\n', true],
    ['Intro\n=====\n\nSee [docs](https://example.com) for more.\n', true],
    ['| a | b |\n|---|---|\n| 1 | 2 |\n', true],
    ['Remember __init__ and `x`\n', false],
    ['#hashtag is not a heading\n', false],
    ['- milk\n- eggs\n- bread\n', false],
  ])('%j → %s', (text, expected) => {
    expect(looksLikeMarkdown(text)).toBe(expected);
  });
});
