import { makeEpub } from '@quarry/test-kit';
import { strToU8, zipSync } from 'fflate';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseEpub } from './epub';

afterAll(removeScratch);

describe('parseEpub', () => {
  it('gives one page per chapter in spine order, labelled by its heading or its TOC entry', async () => {
    const epub = makeEpub({
      title: 'A Short Book',
      chapters: [
        { title: 'The Beginning', paragraphs: ['It was a dark night.', 'Rain fell.'] },
        { tocTitle: 'Interlude', paragraphs: ['A chapter without a heading.'] },
        { title: 'The End', paragraphs: ['And so it ended.'] },
      ],
    });
    const { pages, meta } = await parseFixture(parseEpub, epub, { type: 'epub' });
    expect(meta).toEqual({ title: 'A Short Book' });
    expect(pages).toEqual([
      {
        pageNumber: 1,
        label: 'The Beginning',
        text: 'The Beginning\n\nIt was a dark night.\n\nRain fell.',
        sections: [{ offset: 0, path: ['The Beginning'] }],
      },
      { pageNumber: 2, label: 'Interlude', text: 'A chapter without a heading.' },
      {
        pageNumber: 3,
        label: 'The End',
        text: 'The End\n\nAnd so it ended.',
        sections: [{ offset: 0, path: ['The End'] }],
      },
    ]);
  });

  it('reads EPUB 2 XHTML: its DTD, HTML entities and self-closing anchors', async () => {
    const epub = makeEpub({
      title: 'Old Book',
      chapters: [{ title: 'One', paragraphs: ['Words with a non-breaking space.'] }],
      xhtmlQuirks: true,
    });
    const { pages } = await parseFixture(parseEpub, epub, { type: 'epub' });
    expect(pages[0]!.text).toBe('One\n\nWords with a non-breaking space.');
  });

  it('reads the EPUB 2 NCX for chapter titles when there is no navigation document', async () => {
    const ncx =
      '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>' +
      '<navPoint id="n1"><navLabel><text>Prologue</text></navLabel><content src="text/p.xhtml#start"/></navPoint>' +
      '</navMap></ncx>';
    const opf =
      '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">' +
      '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Two</dc:title></metadata>' +
      '<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>' +
      '<item id="p" href="text/p.xhtml" media-type="application/xhtml+xml"/>' +
      '<item id="cover" href="text/cover.xhtml" media-type="application/xhtml+xml"/></manifest>' +
      '<spine toc="ncx"><itemref idref="cover"/><itemref idref="p"/></spine></package>';
    const epub = zipSync({
      mimetype: [strToU8('application/epub+zip'), { level: 0 }],
      'META-INF/container.xml': strToU8(
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">' +
          '<rootfiles><rootfile full-path="OPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
      ),
      'OPS/book.opf': strToU8(opf),
      'OPS/toc.ncx': strToU8(ncx),
      'OPS/text/cover.xhtml': strToU8(
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><img src="c.jpg"/></body></html>',
      ),
      'OPS/text/p.xhtml': strToU8(
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Before it all.</p></body></html>',
      ),
    });
    const { pages, meta } = await parseFixture(parseEpub, epub, { type: 'epub' });
    // The cover page has no text, so it is no page.
    expect(pages).toEqual([{ pageNumber: 1, label: 'Prologue', text: 'Before it all.' }]);
    expect(meta).toEqual({ title: 'Two' });
  });

  it('says encrypted when DRM encrypts content documents, but reads a book with obfuscated fonts', async () => {
    const drm = makeEpub({
      title: 'Locked',
      chapters: [{ title: 'A', paragraphs: ['x'] }],
      encryptChapters: true,
    });
    expect(await failureOf(parseFixture(parseEpub, drm, { type: 'epub' }))).toMatchObject({
      code: 'encrypted',
    });
    const fonts = makeEpub({
      title: 'Fonts',
      chapters: [{ title: 'A', paragraphs: ['x'] }],
      obfuscatedFont: true,
    });
    const { pages } = await parseFixture(parseEpub, fonts, { type: 'epub' });
    expect(pages.map((p) => p.text)).toEqual(['A\n\nx']);
  });

  it('fails with too_many_pages past the chapter limit', async () => {
    const epub = makeEpub({
      title: 'Long',
      chapters: [1, 2, 3].map((n) => ({ title: `C${n}`, paragraphs: ['text'] })),
    });
    expect(
      await failureOf(parseFixture(parseEpub, epub, { type: 'epub', limits: { maxPages: 2 } })),
    ).toMatchObject({
      code: 'too_many_pages',
    });
  });

  it('says corrupt_epub without a container or with a broken package document', async () => {
    const noContainer = zipSync({ mimetype: [strToU8('application/epub+zip'), { level: 0 }] });
    expect(await failureOf(parseFixture(parseEpub, noContainer, { type: 'epub' }))).toMatchObject({
      code: 'corrupt_epub',
    });
    const brokenOpf = zipSync({
      mimetype: [strToU8('application/epub+zip'), { level: 0 }],
      'META-INF/container.xml': strToU8(
        '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>' +
          '<rootfile full-path="a.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
      ),
      'a.opf': strToU8('<package><manifest>'),
    });
    const failure = await failureOf(parseFixture(parseEpub, brokenOpf, { type: 'epub' }));
    expect(failure.code).toBe('corrupt_epub');
    expect(failure.message).toContain('package document');
  });
});
