import { makeRtf } from '@quarry/test-kit';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseRtf } from './rtf';

afterAll(removeScratch);

describe('parseRtf', () => {
  it('gives one page with sections from the heading styles', async () => {
    const rtf = makeRtf({
      blocks: [
        { heading: 'Minutes', level: 1 },
        { paragraph: 'Present: Ann, Bob.' },
        { heading: 'Decisions', level: 2 },
        { paragraph: 'Budget approved — unanimously, café included.' },
      ],
    });
    const { pages } = await parseFixture(parseRtf, rtf, { type: 'rtf' });
    const { text, sections } = pages[0]!;
    expect(text).toBe(
      'Minutes\n\nPresent: Ann, Bob.\n\nDecisions\n\nBudget approved — unanimously, café included.',
    );
    expect(sections).toEqual([
      { offset: 0, path: ['Minutes'] },
      { offset: text.indexOf('Decisions'), path: ['Minutes', 'Decisions'] },
    ]);
  });

  it('says corrupt_rtf for a file that is not RTF', async () => {
    expect(await failureOf(parseFixture(parseRtf, 'Just words.', { type: 'rtf' }))).toMatchObject({
      code: 'corrupt_rtf',
    });
  });
});
