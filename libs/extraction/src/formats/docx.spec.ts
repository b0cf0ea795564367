import { makeBillionLaughsDocx, makeDocx, makeEncryptedEntryDocx, makeZipBombDocx } from '@quarry/test-kit';
import { strToU8, zipSync } from 'fflate';
import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseDocx } from './docx';

afterAll(removeScratch);

describe('parseDocx', () => {
  it('reads headings from Word styles as sections, tables as rows and the core title', async () => {
    const docx = await makeDocx({
      title: 'Annual Report 2024',
      sections: [
        { heading: 'Introduction', paragraphs: ['We had a good year.', 'Revenue grew.'] },
        { heading: 'Staff', level: 2, bullets: ['Ann', 'Bob'] },
        {
          heading: 'Figures',
          level: 2,
          table: [
            ['Quarter', 'Revenue', 'Notes'],
            ['Q1', '10', ''],
            ['Q2', '12', 'record'],
          ],
        },
        { heading: 'Outlook', paragraphs: ['Steady.'] },
      ],
    });
    const { pages, meta } = await parseFixture(parseDocx, docx, { type: 'docx' });
    expect(meta).toEqual({ title: 'Annual Report 2024' });
    expect(pages).toHaveLength(1);
    const { text, sections } = pages[0]!;
    expect(text).toBe(
      'Introduction\n\nWe had a good year.\n\nRevenue grew.\n\nStaff\n\n- Ann\n- Bob\n\nFigures\n\n' +
        'Quarter | Revenue | Notes\nQuarter: Q1 | Revenue: 10\nQuarter: Q2 | Revenue: 12 | Notes: record\n\n' +
        'Outlook\n\nSteady.',
    );
    expect(sections).toEqual([
      { offset: 0, path: ['Introduction'] },
      { offset: text.indexOf('Staff'), path: ['Introduction', 'Staff'] },
      { offset: text.indexOf('Figures'), path: ['Introduction', 'Figures'] },
      { offset: text.indexOf('Outlook'), path: ['Outlook'] },
    ]);
  });

  it('has no title when the core properties have none', async () => {
    const { meta, pages } = await parseFixture(
      parseDocx,
      await makeDocx({ sections: [{ paragraphs: ['Hi.'] }] }),
      {
        type: 'docx',
      },
    );
    expect(meta).toEqual({});
    expect(pages[0]!.text).toBe('Hi.');
  });

  it('refuses zip bombs, entity bombs and encrypted archives before mammoth sees them', async () => {
    expect(await failureOf(parseFixture(parseDocx, makeZipBombDocx(), { type: 'docx' }))).toMatchObject({
      code: 'archive_too_large',
    });
    expect(await failureOf(parseFixture(parseDocx, makeBillionLaughsDocx(), { type: 'docx' }))).toMatchObject(
      {
        code: 'corrupt_docx',
      },
    );
    expect(
      await failureOf(parseFixture(parseDocx, makeEncryptedEntryDocx(), { type: 'docx' })),
    ).toMatchObject({
      code: 'encrypted',
    });
  });

  it('says corrupt_docx for a ZIP that is no Word document, or no ZIP at all', async () => {
    expect(
      await failureOf(parseFixture(parseDocx, zipSync({ 'notes.txt': strToU8('hello') }), { type: 'docx' })),
    ).toMatchObject({ code: 'corrupt_docx' });
    expect(await failureOf(parseFixture(parseDocx, 'plain text', { type: 'docx' }))).toMatchObject({
      code: 'corrupt_docx',
    });
  });
});
