import { failureOf, parseFixture, removeScratch } from './__fixtures__/parse-fixture';
import { parseCsv } from './csv';
import { csvEvidence, sniffDelimiter } from './csv-sniff';

afterAll(removeScratch);

describe('parseCsv', () => {
  it('reads comma-separated data with quoted fields, the first row as header', async () => {
    const csv = 'Name,City,Note\r\nAnn,Oslo,"likes ""fjords"", and fish"\r\n\r\nBob,"Rome",\r\n,,\r\n';
    const { pages } = await parseFixture(parseCsv, csv, { type: 'csv' });
    expect(pages).toEqual([
      {
        pageNumber: 1,
        text: 'Name | City | Note\nName: Ann | City: Oslo | Note: likes "fjords", and fish\nName: Bob | City: Rome',
      },
    ]);
  });

  it('sniffs semicolons (with decimal commas), tabs and pipes', async () => {
    const semicolon = await parseFixture(parseCsv, 'Item;Price\nNut;1,50\nBolt;2,25\n', { type: 'csv' });
    expect(semicolon.pages[0]!.text).toBe('Item | Price\nItem: Nut | Price: 1,50\nItem: Bolt | Price: 2,25');
    const tab = await parseFixture(parseCsv, 'a\tb\n1\t2\n', { type: 'csv' });
    expect(tab.pages[0]!.text).toBe('a | b\na: 1 | b: 2');
    const pipe = await parseFixture(parseCsv, 'x|y\n1|2\n3|4\n', { type: 'csv' });
    expect(pipe.pages[0]!.text).toBe('x | y\nx: 1 | y: 2\nx: 3 | y: 4');
  });

  it('decodes legacy encodings with the charset detection text gets', async () => {
    const latin1 = new Uint8Array(
      Buffer.from('Stadt,Straße\nMünchen,Hauptstraße\nKöln,Domplatz\n', 'latin1'),
    );
    const { pages } = await parseFixture(parseCsv, latin1, { type: 'csv' });
    expect(pages[0]!.text).toBe(
      'Stadt | Straße\nStadt: München | Straße: Hauptstraße\nStadt: Köln | Straße: Domplatz',
    );
  });

  it('reads ragged rows and stray quotes rather than refusing them', async () => {
    const { pages } = await parseFixture(parseCsv, 'a,b,c\n1,2\n3,4,5,6\n7,8 "inch",9\n', { type: 'csv' });
    expect(pages[0]!.text).toBe('a | b | c\na: 1 | b: 2\na: 3 | b: 4 | c: 5 | 6\na: 7 | b: 8 "inch" | c: 9');
  });

  it('reads on past a quote that is never closed, taking quotes literally from there', async () => {
    const { pages } = await parseFixture(parseCsv, 'k;v\nok;"a; b"\nbad;"open\nlast;1\n', { type: 'csv' });
    expect(pages[0]!.text).toBe('k | v\nk: ok | v: a; b\nk: bad | v: "open\nk: last | v: 1');
  });

  it('fails with undecodable_text for binary bytes', async () => {
    const binary = new Uint8Array(Array.from({ length: 512 }, (_, i) => (i * 37) % 256));
    expect(await failureOf(parseFixture(parseCsv, binary, { type: 'csv' }))).toMatchObject({
      code: 'undecodable_text',
    });
  });
});

describe('sniffDelimiter and csvEvidence', () => {
  it('prefers the delimiter that splits every record the same way', () => {
    expect(sniffDelimiter('a;b;c\n1,5;2;3\n4;5,5;6\n')?.delimiter).toBe(';');
    expect(sniffDelimiter('"x,y"|z\n"1,2"|3\n')?.delimiter).toBe('|');
    expect(sniffDelimiter('no delimiters at all\nhere\n')).toBeNull();
  });

  it('tells delimited data from prose', () => {
    expect(csvEvidence('id,name,score\n1,Ann,3\n2,Bob,4\n')).toBe('strong');
    expect(csvEvidence('a,b\n1,2\n')).toBe('weak');
    expect(csvEvidence('Hello, world.\nHi, there.\nBye, now.\n')).toBe('weak');
    expect(csvEvidence('First, we met.\n\nThen, we ate.\n\nLater, we left.\n')).toBe('weak');
    expect(csvEvidence('Dear team,\nthe meeting moved.\n')).toBe('none');
    expect(csvEvidence('| a | b |\n|---|---|\n| 1 | 2 |\n')).toBe('none');
  });

  it('ignores a last record cut short by a truncated head', () => {
    expect(csvEvidence('a,b,c\n1,2,3\n4,5,6\n7,8', { truncated: true })).toBe('strong');
    expect(csvEvidence('a,b,c\n1,2,3\n4,5,6\n7,8')).toBe('none');
  });
});
