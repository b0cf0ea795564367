import { sanitizeFilename } from './upload.service';

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

  it('never cuts a surrogate pair in half', () => {
    const name = sanitizeFilename('\u{1F600}'.repeat(300));
    expect(name).toBe('\u{1F600}'.repeat(127));
    expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name);
    expect(sanitizeFilename(`${'a'.repeat(254)}\u{1F600}`)).toBe('a'.repeat(254));
  });
});
