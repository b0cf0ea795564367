import { makeOds } from '@quarry/test-kit';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseOds } from './ods';

afterAll(removeScratch);

describe('parseOds', () => {
  it('gives one page per sheet, labelled with its name, rows keyed by the header', async () => {
    const ods = makeOds([
      {
        name: 'Parts',
        rows: [
          ['Part', 'Qty', 'Bin'],
          ['Nut', '3', 'A1'],
          ['Bolt', '12', ''],
        ],
      },
      { name: 'Notes', rows: [['Only one column'], ['second line']] },
    ]);
    const { pages } = await parseFixture(parseOds, ods, { type: 'ods' });
    expect(pages).toEqual([
      {
        pageNumber: 1,
        label: 'Parts',
        text: 'Part | Qty | Bin\nPart: Nut | Qty: 3 | Bin: A1\nPart: Bolt | Qty: 12',
      },
      { pageNumber: 2, label: 'Notes', text: 'Only one column\nsecond line' },
    ]);
  });

  it('fails with too_many_pages when there are more sheets than allowed', async () => {
    const ods = makeOds([
      { name: 'a', rows: [['1']] },
      { name: 'b', rows: [['2']] },
    ]);
    expect(
      await failureOf(parseFixture(parseOds, ods, { type: 'ods', limits: { maxPages: 1 } })),
    ).toMatchObject({
      code: 'too_many_pages',
    });
  });

  it('says corrupt_ods for bytes that are not a spreadsheet archive', async () => {
    expect(await failureOf(parseFixture(parseOds, 'a,b\n1,2\n', { type: 'ods' }))).toMatchObject({
      code: 'corrupt_ods',
    });
  });
});
