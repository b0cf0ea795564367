import { FormFeedPages } from './poppler';

/** Feeds `bytes` to a splitter in chunks of `size`, returning every page it gives, the rest last. */
function split(bytes: Buffer, size: number): string[] {
  const pages = new FormFeedPages();
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    for (const page of pages.push(bytes.subarray(i, i + size))) out.push(page.toString('utf8'));
  }
  out.push(pages.end().toString('utf8'));
  return out;
}

describe('FormFeedPages', () => {
  const text = ['Première page — ünïcödé', '', '第三页的文字 and 🙂 emoji', 'last\n'];
  const bytes = Buffer.from(text.join('\f') + '\f', 'utf8');

  it.each([1, 2, 3, 5, 7, 64, bytes.length])(
    'gives the same pages whatever the chunk size (%i bytes), never splitting a character',
    (size) => {
      expect(split(bytes, size)).toEqual([...text, '']);
    },
  );

  it('keeps what follows the last form feed for the end', () => {
    expect(split(Buffer.from('a\fb\fno form feed after me', 'utf8'), 4)).toEqual([
      'a',
      'b',
      'no form feed after me',
    ]);
  });

  it('gives consecutive form feeds as empty pages', () => {
    expect(split(Buffer.from('\f\fx\f', 'utf8'), 1)).toEqual(['', '', 'x', '']);
  });
});
