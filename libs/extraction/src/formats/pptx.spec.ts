import { makeManyEntryZip, makePptx } from '@quarry/test-kit';
import { strToU8 } from 'fflate';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parsePptx } from './pptx';

afterAll(removeScratch);

describe('parsePptx', () => {
  it('gives one page per slide, labelled by its title, with notes after the slide text', async () => {
    const pptx = await makePptx([
      {
        title: 'Quarterly results',
        body: ['Revenue grew by ten percent'],
        bullets: ['North', 'South'],
        table: [
          ['Region', 'Sales'],
          ['North', '10'],
          ['South', '7'],
        ],
        notes: 'Mention the new office',
      },
      { body: ['A slide without a title', 'and a second paragraph'] },
      { title: 'Questions?' },
    ]);
    const { pages, meta } = await parseFixture(parsePptx, pptx, { type: 'pptx' });
    expect(pages.map((p) => [p.pageNumber, p.label])).toEqual([
      [1, 'Quarterly results'],
      [2, 'A slide without a title'],
      [3, 'Questions?'],
    ]);
    const first = pages[0]!;
    expect(first.text).toBe(
      'Quarterly results\n\nRevenue grew by ten percent\n\n- North\n- South\n\n' +
        'Region | Sales\nRegion: North | Sales: 10\nRegion: South | Sales: 7\n\nNotes\n\nMention the new office',
    );
    expect(first.sections).toEqual([
      { offset: 0, path: ['Quarterly results'] },
      { offset: first.text.indexOf('Notes'), path: ['Quarterly results', 'Notes'] },
    ]);
    // PowerPoint's notes pages carry the slide number as a field: it is not a note.
    expect(pages[1]!.text).toBe('A slide without a title\n\nand a second paragraph');
    expect(pages[2]!.text).toBe('Questions?');
    // pptxgenjs stamps its own name as the title of every deck.
    expect(meta).toEqual({});
  });

  it('fails with too_many_pages when the deck has more slides than allowed', async () => {
    const pptx = await makePptx([{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
    expect(
      await failureOf(parseFixture(parsePptx, pptx, { type: 'pptx', limits: { maxPages: 2 } })),
    ).toMatchObject({
      code: 'too_many_pages',
    });
  });

  it('says corrupt_pptx for an archive that is no presentation, and archive_too_large past the entry limit', async () => {
    expect(
      await failureOf(
        parseFixture(parsePptx, makeManyEntryZip(3, { 'a.txt': strToU8('x') }), { type: 'pptx' }),
      ),
    ).toMatchObject({ code: 'corrupt_pptx' });
    expect(
      await failureOf(
        parseFixture(parsePptx, makeManyEntryZip(20), { type: 'pptx', limits: { maxArchiveEntries: 10 } }),
      ),
    ).toMatchObject({ code: 'archive_too_large' });
  });
});
