import { QuarryError } from '@quarry/contracts';
import iconv from 'iconv-lite';
import { decodeText } from './decode-text';
import { extractText } from './extract-text';

const FRENCH =
  'Le cœur déçu mais l’âme plutôt naïve, Louÿs rêva de crapaüter en canoë au delà des îles. Ça coûte 5 €.';
const GERMAN = 'Straße über Öl für Ärger: Grüße aus München, schöne Tage.';
const RUSSIAN = 'Съешь же ещё этих мягких французских булок, да выпей чаю. Это проверка кодировки текста.';

describe('decodeText', () => {
  it('decodes UTF-8, normalising line endings and dropping NULs', () => {
    expect(decodeText(Buffer.from('one\r\ntwo\rthree\nfo\0ur ünïcode', 'utf8'))).toEqual({
      text: 'one\ntwo\nthree\nfour ünïcode',
      encoding: 'utf-8',
    });
  });

  it('honours a BOM first', () => {
    expect(decodeText(Buffer.from('\uFEFFwith BOM', 'utf8'))).toEqual({
      text: 'with BOM',
      encoding: 'utf-8',
    });
    expect(decodeText(Buffer.from('\uFEFFLittle ünïcode', 'utf16le'))).toEqual({
      text: 'Little ünïcode',
      encoding: 'utf-16le',
    });
    expect(decodeText(Buffer.from('\uFEFFBig ünïcode', 'utf16le').swap16())).toEqual({
      text: 'Big ünïcode',
      encoding: 'utf-16be',
    });
  });

  it.each([
    ['latin1', GERMAN],
    ['latin1', 'café naïve'],
    ['windows-1252', FRENCH],
  ])('decodes %s text right', (encoding, text) => {
    const decoded = decodeText(iconv.encode(text, encoding));
    expect(decoded.text).toBe(text);
    expect(decoded.encoding).toBe('windows-1252');
  });

  it('follows chardet to other legacy encodings when it is confident', () => {
    expect(decodeText(iconv.encode(RUSSIAN, 'windows-1251'))).toEqual({
      text: RUSSIAN,
      encoding: 'windows-1251',
    });
  });

  it('throws undecodable_text for binary data and BOM-less UTF-16', () => {
    expect(() => decodeText(Buffer.from('no byte order mark here', 'utf16le'))).toThrow(
      /does not decode as text/,
    );
    const binary = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256);
    expect(() => decodeText(binary)).toThrow(QuarryError);
    try {
      decodeText(binary);
    } catch (error) {
      expect(QuarryError.is(error, 'undecodable_text')).toBe(true);
    }
  });

  it('decodes empty input to empty text', () => {
    expect(decodeText(new Uint8Array(0))).toEqual({ text: '', encoding: 'utf-8' });
  });
});

describe('extractText', () => {
  it('is one page without form feeds', () => {
    expect(extractText(Buffer.from('just\r\ntext'))).toEqual({
      pageCount: 1,
      pages: [{ pageNumber: 1, text: 'just\ntext' }],
      encoding: 'utf-8',
    });
  });

  it('splits pages on form feeds, ignoring a trailing one', () => {
    const { pageCount, pages } = extractText(Buffer.from('first\fsecond\n\f\n'));
    expect(pageCount).toBe(2);
    expect(pages).toEqual([
      { pageNumber: 1, text: 'first' },
      { pageNumber: 2, text: 'second\n' },
    ]);
  });
});
