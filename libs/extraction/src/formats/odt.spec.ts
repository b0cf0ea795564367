import { makeEncryptedOdt, makeOdt } from '@quarry/test-kit';
import { strToU8, zipSync } from 'fflate';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseOdt } from './odt';

afterAll(removeScratch);

const CONTENT_NS =
  'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"';

describe('parseOdt', () => {
  it('gives one page with heading sections, lists and tables, and the title from meta.xml', async () => {
    const odt = makeOdt({
      title: 'Field guide',
      blocks: [
        { heading: 'Birds', level: 1 },
        { paragraph: 'Common in spring.' },
        { heading: 'Finches', level: 2 },
        { list: ['Goldfinch', 'Chaffinch'] },
        {
          table: [
            ['Bird', 'Weight'],
            ['Goldfinch', '16'],
          ],
        },
        { heading: 'Mammals', level: 1 },
        { paragraph: 'Mostly at night.' },
      ],
    });
    const { pages, meta } = await parseFixture(parseOdt, odt, { type: 'odt' });
    expect(meta).toEqual({ title: 'Field guide' });
    const { text, sections } = pages[0]!;
    expect(text).toBe(
      'Birds\n\nCommon in spring.\n\nFinches\n\n- Goldfinch\n- Chaffinch\n\nBird | Weight\nBird: Goldfinch | Weight: 16\n\n' +
        'Mammals\n\nMostly at night.',
    );
    expect(sections).toEqual([
      { offset: 0, path: ['Birds'] },
      { offset: text.indexOf('Finches'), path: ['Birds', 'Finches'] },
      { offset: text.indexOf('Mammals'), path: ['Mammals'] },
    ]);
  });

  it('puts footnotes after the text under a Notes heading', async () => {
    const content =
      `<?xml version="1.0" encoding="UTF-8"?><office:document-content ${CONTENT_NS}><office:body><office:text>` +
      '<text:p>Main text<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>' +
      '<text:note-body><text:p>The source.</text:p></text:note-body></text:note> continues.</text:p>' +
      '</office:text></office:body></office:document-content>';
    const odt = zipSync({
      mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }],
      'content.xml': strToU8(content),
    });
    const { pages } = await parseFixture(parseOdt, odt, { type: 'odt' });
    expect(pages[0]!.text).toBe('Main text continues.\n\nNotes\n\nThe source.');
    expect(pages[0]!.sections).toEqual([{ offset: 22, path: ['Notes'] }]);
  });

  it('says encrypted for a password-protected document, whose content.xml is ciphertext', async () => {
    expect(await failureOf(parseFixture(parseOdt, makeEncryptedOdt(), { type: 'odt' }))).toMatchObject({
      code: 'encrypted',
    });
  });

  it('accepts the DOCTYPE OpenOffice.org 2 wrote into its manifest', async () => {
    const odt = zipSync({
      mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }],
      'content.xml': strToU8(
        `<?xml version="1.0"?><office:document-content ${CONTENT_NS}><office:body><office:text>` +
          '<text:p>Old but fine.</text:p></office:text></office:body></office:document-content>',
      ),
      'META-INF/manifest.xml': strToU8(
        '<?xml version="1.0" encoding="UTF-8"?>' +
          '<!DOCTYPE manifest:manifest PUBLIC "-//OpenOffice.org//DTD Manifest 1.0//EN" "Manifest.dtd">' +
          '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">' +
          '<manifest:file-entry manifest:media-type="text/xml" manifest:full-path="content.xml"/></manifest:manifest>',
      ),
    });
    const { pages } = await parseFixture(parseOdt, odt, { type: 'odt' });
    expect(pages[0]!.text).toBe('Old but fine.');
  });

  it('refuses a content.xml with a DTD', async () => {
    const odt = zipSync({
      mimetype: [strToU8('application/vnd.oasis.opendocument.text'), { level: 0 }],
      'content.xml': strToU8(
        `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><office:document-content ${CONTENT_NS}/>`,
      ),
    });
    const failure = await failureOf(parseFixture(parseOdt, odt, { type: 'odt' }));
    expect(failure.code).toBe('corrupt_odt');
    expect(failure.message).toContain('content.xml');
  });
});
