import { joinPageText, packTextItems, type PdfTextItem } from './join-text';

const item = (str: string, x: number, y: number, hasEOL = false, height = 12): PdfTextItem => ({
  str,
  hasEOL,
  x,
  y,
  width: str.length * 6,
  height,
});

const join = (items: PdfTextItem[]): string => joinPageText(packTextItems(items));

describe('joinPageText', () => {
  it('breaks lines at hasEOL and paragraphs at a larger gap', () => {
    expect(
      join([
        item('First line', 72, 720, true),
        item('second line', 72, 704, true),
        item('third line', 72, 688, true),
        item('New paragraph', 72, 656, true),
        item('continues', 72, 640),
      ]),
    ).toBe('First line\nsecond line\nthird line\n\nNew paragraph\ncontinues');
  });

  it('starts a new line when the baseline changes without hasEOL', () => {
    expect(join([item('top', 72, 720), item('bottom', 72, 704)])).toBe('top\nbottom');
  });

  it('keeps runs on one baseline together, adding a space only across a visible gap', () => {
    expect(join([item('Hel', 72, 720), item('lo', 90, 720), item('world', 120, 720)])).toBe('Hello world');
    expect(join([item('already ', 72, 720), item('spaced', 200, 720)])).toBe('already spaced');
  });

  it('treats a jump upwards as a new block', () => {
    expect(join([item('left column end', 72, 100, true), item('right column top', 320, 720)])).toBe(
      'left column end\n\nright column top',
    );
  });

  it('drops empty and whitespace-only lines and returns empty text for an empty page', () => {
    expect(join([item('', 0, 0, true), item('  ', 72, 700, true), item('text', 72, 684)])).toBe('text');
    expect(join([])).toBe('');
    expect(join([item('a\0b', 72, 700)])).toBe('ab');
  });
});
