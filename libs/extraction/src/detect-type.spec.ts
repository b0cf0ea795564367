import { DETECT_HEAD_BYTES, detectType, looksLikeMarkdown } from './detect-type';
import { makeTestPdf } from '@quarry/test-kit';

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

  it('calls a zip docx only when a Word part is visible', () => {
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
    ).toBe('unknown');
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
