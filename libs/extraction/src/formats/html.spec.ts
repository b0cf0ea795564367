import { HTML_CHROME_TEXTS, makeHtmlArticle } from '@quarry/test-kit';
import { parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { decodeHtml, parseHtml } from './html';

const TITLE = 'City council approves the new river bridge';
const paragraph = (lead: string): string =>
  `${lead} The council met on Tuesday evening to discuss the proposal in detail, hearing from residents, ` +
  'engineers and the mayor, who said that the plan would be revisited after the summer recess. '.repeat(2);

afterAll(removeScratch);

describe('parseHtml', () => {
  it('keeps the article and drops the navigation, ads, cookie banner, footer and scripts', async () => {
    const html = makeHtmlArticle({
      title: TITLE,
      paragraphs: [paragraph('First.'), paragraph('Second.'), paragraph('Third.')],
      subheading: 'What happens next',
    });
    const { pages, meta } = await parseFixture(parseHtml, html, { type: 'html' });
    expect(pages).toHaveLength(1);
    const [page] = pages;
    expect(page!.text.startsWith(`${TITLE}\n\nFirst. The council met`)).toBe(true);
    expect(page!.text).toContain('Third. The council met');
    for (const chrome of Object.values(HTML_CHROME_TEXTS)) expect(page!.text).not.toContain(chrome);
    expect(page!.text).not.toContain('tracking-script-text');
    expect(page!.text).not.toContain('Related story');
    expect(meta).toEqual({ title: TITLE });
    expect(page!.sections).toEqual([
      { offset: 0, path: [TITLE] },
      { offset: page!.text.indexOf('What happens next'), path: [TITLE, 'What happens next'] },
    ]);
  });

  it('keeps a short article on a small page, and drops consent banners and ad boxes named by their class', async () => {
    const short = makeHtmlArticle({
      title: 'Comet watch',
      paragraphs: ['A comet passed Jupiter.', 'More soon.'],
    });
    const { pages } = await parseFixture(parseHtml, short, { type: 'html' });
    expect(pages[0]!.text).toContain('A comet passed Jupiter.');
    for (const chrome of Object.values(HTML_CHROME_TEXTS)) expect(pages[0]!.text).not.toContain(chrome);

    const bare =
      '<!doctype html><html><head><title>Hours</title></head><body>' +
      '<div class="cc-banner cookie-consent">We use cookies</div><div id="ad-slot-top">Buy now</div>' +
      '<p>Open 9 to 5.</p></body></html>';
    const plain = await parseFixture(parseHtml, bare, { type: 'html' });
    expect(plain.pages[0]!.text).toBe('Hours\n\nOpen 9 to 5.');

    // A class naming a state of the page on the body or a big wrapper (mdBook's "sidebar-visible") is not chrome.
    const book =
      '<!doctype html><html><head><title>Guide</title></head><body class="sidebar-visible no-js">' +
      '<nav class="sidebar"><a href="/a">Chapter A</a></nav><div id="page-wrapper" class="page-wrapper has-menu">' +
      `<div class="content"><h1>Guide</h1><p>${paragraph('Install it.')}</p></div></div></body></html>`;
    const read = await parseFixture(parseHtml, book, { type: 'html' });
    expect(read.pages[0]!.text).toContain('Install it. The council met');
    expect(read.pages[0]!.text).not.toContain('Chapter A');
  });

  it('uses the <title> and reads the whole body, chrome skipped, when there is no article to find', async () => {
    const html =
      '<!doctype html><html><head><title>Opening hours</title></head><body>' +
      '<nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>' +
      '<h2>Weekdays</h2><p>9 to 5.</p><ul><li>Closed on Sundays</li></ul>' +
      '<footer>All rights reserved</footer></body></html>';
    const { pages, meta } = await parseFixture(parseHtml, html, { type: 'html' });
    expect(pages[0]!.text).toBe('Opening hours\n\nWeekdays\n\n9 to 5.\n\n- Closed on Sundays');
    expect(pages[0]!.sections).toEqual([
      { offset: 0, path: ['Opening hours'] },
      { offset: 15, path: ['Opening hours', 'Weekdays'] },
    ]);
    expect(meta).toEqual({ title: 'Opening hours' });
  });

  it('reads a page without a title or content as one empty page', async () => {
    const { pages, meta } = await parseFixture(parseHtml, '<!doctype html><html><body></body></html>', {
      type: 'html',
    });
    expect(pages).toEqual([{ pageNumber: 1, text: '' }]);
    expect(meta).toEqual({});
  });

  it('decodes with the charset the page declares', async () => {
    const html = makeHtmlArticle({
      title: 'Café crème à la française',
      paragraphs: [paragraph('Première.'), paragraph('Deuxième.'), paragraph('Troisième.')],
      charset: 'windows-1252',
    });
    const { pages } = await parseFixture(parseHtml, html, { type: 'html' });
    expect(pages[0]!.text).toContain('Café crème à la française');
    expect(pages[0]!.text).toContain('Deuxième.');
  });
});

describe('decodeHtml', () => {
  const latin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

  it('follows <meta charset> and <meta http-equiv> declarations', () => {
    expect(
      decodeHtml(latin1('<html><head><meta charset="iso-8859-1"></head><body>na\xefve \x80</body></html>')),
    ).toContain('naïve €');
    expect(
      decodeHtml(
        latin1(
          '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head>' +
            '<body>\xcf\xf0\xe8\xe2\xe5\xf2</body></html>',
        ),
      ),
    ).toContain('Привет');
  });

  it('prefers a BOM, and detects when a page claiming UTF-8 is not', () => {
    const utf16 = new Uint8Array(Buffer.from('\uFEFF<p>Grüße</p>', 'utf16le'));
    expect(decodeHtml(utf16)).toBe('<p>Grüße</p>');
    expect(decodeHtml(latin1('<meta charset="utf-8"><p>Stra\xdfe und M\xfcnchen, caf\xe9</p>'))).toContain(
      'Straße und München, café',
    );
  });
});
