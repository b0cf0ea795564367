import { makeOdp } from '@quarry/test-kit';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseOdp } from './odp';

afterAll(removeScratch);

describe('parseOdp', () => {
  it('gives one page per slide with its title as label and its notes after the text', async () => {
    const odp = makeOdp([
      { title: 'Roadmap', bullets: ['Search', 'Sharing'], notes: 'Keep it short' },
      { body: ['Thank you for listening'] },
    ]);
    const { pages } = await parseFixture(parseOdp, odp, { type: 'odp' });
    expect(pages).toEqual([
      {
        pageNumber: 1,
        label: 'Roadmap',
        text: 'Roadmap\n\n- Search\n- Sharing\n\nNotes\n\nKeep it short',
        sections: [
          { offset: 0, path: ['Roadmap'] },
          { offset: 29, path: ['Roadmap', 'Notes'] },
        ],
      },
      { pageNumber: 2, label: 'Thank you for listening', text: 'Thank you for listening' },
    ]);
  });

  it('fails with too_many_pages past the slide limit', async () => {
    const odp = makeOdp([{ title: 'a' }, { title: 'b' }]);
    expect(
      await failureOf(parseFixture(parseOdp, odp, { type: 'odp', limits: { maxPages: 1 } })),
    ).toMatchObject({
      code: 'too_many_pages',
    });
  });
});
