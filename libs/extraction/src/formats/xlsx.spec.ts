import { makeXlsx } from '@quarry/test-kit';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { cellText, parseXlsx } from './xlsx';

afterAll(removeScratch);

describe('parseXlsx', () => {
  it('gives one page per sheet in tab order, the first non-empty row as the header', async () => {
    const xlsx = await makeXlsx([
      {
        name: 'People',
        rows: [
          [],
          ['Name', 'Born', 'Score', 'Site'],
          [
            'Ann',
            new Date(Date.UTC(1990, 4, 17)),
            { formula: 'B3*2', result: 84 },
            { text: 'Home', hyperlink: 'https://a.example' },
          ],
          ['Bob', null, { error: '#N/A' }, null],
          [{ richText: [{ text: 'Ca' }, { font: { bold: true }, text: 'rol' }] }, null, 0.1 + 0.2, true],
        ],
      },
      { name: 'Empty', rows: [] },
      { name: 'Totals', rows: [['Sum'], [7]] },
    ]);
    const { pages, meta } = await parseFixture(parseXlsx, xlsx, { type: 'xlsx' });
    expect(meta).toEqual({});
    expect(pages).toEqual([
      {
        pageNumber: 1,
        label: 'People',
        text:
          'Name | Born | Score | Site\n' +
          'Name: Ann | Born: 1990-05-17 | Score: 84 | Site: Home\n' +
          'Name: Bob | Score: #N/A\n' +
          'Name: Carol | Score: 0.3 | Site: TRUE',
      },
      { pageNumber: 2, label: 'Empty', text: '' },
      { pageNumber: 3, label: 'Totals', text: 'Sum\n7' },
    ]);
  });

  it('fails with too_many_pages when the workbook has more sheets than allowed', async () => {
    const xlsx = await makeXlsx([
      { name: 'a', rows: [['1']] },
      { name: 'b', rows: [['2']] },
      { name: 'c', rows: [['3']] },
    ]);
    expect(
      await failureOf(parseFixture(parseXlsx, xlsx, { type: 'xlsx', limits: { maxPages: 2 } })),
    ).toMatchObject({
      code: 'too_many_pages',
    });
  });

  it('says corrupt_xlsx for bytes that are not a workbook', async () => {
    expect(await failureOf(parseFixture(parseXlsx, 'Name,Age\n', { type: 'xlsx' }))).toMatchObject({
      code: 'corrupt_xlsx',
    });
  });
});

describe('cellText', () => {
  it('renders values as Excel shows them, dates as ISO dates', () => {
    expect(cellText(45352, 'yyyy-mm-dd', false)).toBe('2024-03-01');
    expect(cellText(45352.75, 'yyyy-mm-dd hh:mm', false)).toBe('2024-03-01T18:00:00');
    expect(cellText(0.5, 'h:mm', false)).toBe('12:00:00');
    // The 1904 date system counts the same day 1462 lower.
    expect(cellText(43890, 'd/m/yyyy', true)).toBe('2024-03-01');
    expect(cellText(1234.5, '#,##0.00', false)).toBe('1234.5');
    expect(cellText(1234.5, '"Total" 0.0', false)).toBe('1234.5');
    expect(cellText({ formula: 'A1', result: { error: '#DIV/0!' } }, undefined, false)).toBe('#DIV/0!');
    expect(cellText({ formula: 'A1', result: 'text result' }, undefined, false)).toBe('text result');
    expect(cellText({ sharedFormula: 'A1', result: 45352 }, 'yyyy-mm-dd', false)).toBe('2024-03-01');
    expect(cellText(false, undefined, false)).toBe('FALSE');
  });
});
