import { makeOle2 } from '@quarry/test-kit';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failureOf, parseFixture, removeScratch, scratchDir } from './__fixtures__/parse-fixture';
import { ole2StreamNames, parseOle2 } from './ole2';

afterAll(removeScratch);

describe('parseOle2', () => {
  it('says encrypted for a password-protected OOXML document in its OLE2 container', async () => {
    const failure = await failureOf(
      parseFixture(parseOle2, makeOle2(['EncryptionInfo', 'EncryptedPackage', '\u0006DataSpaces']), {
        type: 'ole2',
      }),
    );
    expect(failure.code).toBe('encrypted');
  });

  it('refuses a legacy Office or Outlook file as unsupported, naming what it is', async () => {
    const doc = await failureOf(
      parseFixture(parseOle2, makeOle2(['WordDocument', '1Table', '\u0005SummaryInformation']), {
        type: 'ole2',
      }),
    );
    expect(doc.code).toBe('unsupported_type');
    expect(doc.message).toContain('legacy Microsoft Office / Outlook (OLE2) document');
    expect(doc.message).toContain('Word document (.doc)');
    const msg = await failureOf(
      parseFixture(parseOle2, makeOle2(['__properties_version1.0', '__substg1.0_0037001F']), {
        type: 'ole2',
      }),
    );
    expect(msg.message).toContain('Outlook message (.msg)');
    const other = await failureOf(parseFixture(parseOle2, makeOle2(['Contents']), { type: 'ole2' }));
    expect(other.code).toBe('unsupported_type');
  });
});

describe('ole2StreamNames', () => {
  it('lists the directory names, including ones past the first directory sector', async () => {
    const streams = [
      'WordDocument',
      '1Table',
      'Data',
      'ObjectPool',
      'EncryptedPackage',
      '\u0005DocumentSummaryInformation',
    ];
    const path = join(await scratchDir(), 'file.ole');
    await writeFile(path, makeOle2(streams));
    expect([...(await ole2StreamNames(path))].sort()).toEqual(['Root Entry', ...streams].sort());
  });

  it('finds nothing in a file without the OLE2 signature', async () => {
    const path = join(await scratchDir(), 'not.ole');
    await writeFile(path, new Uint8Array(2048));
    expect((await ole2StreamNames(path)).size).toBe(0);
  });
});
