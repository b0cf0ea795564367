import { filenameFromUrl, sanitizeFilename } from './filenames';

describe('sanitizeFilename', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['/abs/path/x.txt', 'x.txt'],
    ['C:\\evil\\x.txt', 'x.txt'],
    ['dir/sub\\mixed/name.md', 'name.md'],
    ['a\u0000b\u0001c\u001fd\u007fe\u0085f\u009fg.txt', 'abcdefg.txt'],
    ['tab\tand\nnewline.txt', 'tabandnewline.txt'],
    ['invoice\u202efdp.exe', 'invoicefdp.exe'],
    ['zero\u200bwidth\ufeff.txt', 'zerowidth.txt'],
    ['  spaced.txt  ', 'spaced.txt'],
    ['résumé 2024 (final).docx', 'résumé 2024 (final).docx'],
    ['', 'upload'],
    [undefined, 'upload'],
    ['.', 'upload'],
    ['..', 'upload'],
    ['../', 'upload'],
    ['\u0001\u0002', 'upload'],
  ])('%j → %j', (raw, want) => {
    expect(sanitizeFilename(raw)).toBe(want);
  });

  it('cuts names to 255 characters', () => {
    expect(sanitizeFilename('x'.repeat(1000))).toBe('x'.repeat(255));
  });

  it('keeps the extension of a name it cuts', () => {
    expect(sanitizeFilename(`${'n'.repeat(996)}.md`)).toBe(`${'n'.repeat(252)}.md`);
    expect(sanitizeFilename(`${'\u{1F600}'.repeat(200)}.txt`)).toBe(`${'\u{1F600}'.repeat(125)}.txt`);
    // Not an extension worth keeping: too long to be one.
    expect(sanitizeFilename(`a.${'b'.repeat(300)}`)).toBe(`a.${'b'.repeat(253)}`);
  });

  it('stores names in NFC, so decomposed accents (macOS) and composed ones give the same name', () => {
    expect(sanitizeFilename('cafe\u0301 cre\u0300me.txt')).toBe('caf\u00e9 cr\u00e8me.txt');
    expect(sanitizeFilename('caf\u00e9 cr\u00e8me.txt')).toBe('caf\u00e9 cr\u00e8me.txt');
    // NFC, not NFKC: a fullwidth solidus stays a character of the name and never becomes a separator.
    expect(sanitizeFilename('..\uff0fetc\uff0fpasswd')).toBe('..\uff0fetc\uff0fpasswd');
  });

  it('never cuts a surrogate pair in half', () => {
    const name = sanitizeFilename('\u{1F600}'.repeat(300));
    expect(name).toBe('\u{1F600}'.repeat(127));
    expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name);
    expect(sanitizeFilename(`${'a'.repeat(254)}\u{1F600}`)).toBe('a'.repeat(254));
  });
});

describe('filenameFromUrl', () => {
  it.each([
    ['https://example.com/reports/Q3%20results.pdf?token=secret#p2', 'Q3 results.pdf'],
    ['https://example.com/', 'example.com'],
    ['http://10.0.0.1:8080/a/b/', 'b'],
    ['https://example.com/%E0%A4%A', '%E0%A4%A'],
    ['https://example.com/..%2F..%2Fetc%2Fpasswd', 'passwd'],
  ])('%s → %s', (url, want) => {
    expect(filenameFromUrl(url)).toBe(want);
  });
});
