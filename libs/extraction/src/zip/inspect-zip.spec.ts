import {
  makeBillionLaughsDocx,
  makeDocx,
  makeEncryptedEntryDocx,
  makeEpub,
  makeManyEntryZip,
  makeRawDocx,
  makeZipBombDocx,
} from '@quarry/test-kit';
import { strToU8, zipSync } from 'fflate';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failureOf, removeScratch, scratchDir } from '../formats/__fixtures__/parse-fixture';
import { inspectZip, listZipEntries, readZipEntryHead, ZipReader, type ZipLimits } from './inspect-zip';

const LIMITS: ZipLimits = { maxArchiveEntries: 100, maxUncompressedBytes: 16 * 1024 * 1024 };

async function fileOf(bytes: Uint8Array): Promise<string> {
  const path = join(await scratchDir(), 'archive');
  await writeFile(path, bytes);
  return path;
}

afterAll(removeScratch);

describe('inspectZip', () => {
  it('passes a real DOCX and reports its entries and inflated size', async () => {
    const path = await fileOf(
      await makeDocx({ title: 'T', sections: [{ heading: 'H', paragraphs: ['p'] }] }),
    );
    const inspection = await inspectZip(path, 'docx', LIMITS);
    expect(inspection.entries.map((e) => e.name)).toContain('word/document.xml');
    expect(inspection.uncompressedBytes).toBe(
      inspection.entries.reduce((sum, e) => sum + e.uncompressedSize, 0),
    );
  });

  it('refuses more entries than allowed', async () => {
    const path = await fileOf(makeManyEntryZip(30, { 'word/document.xml': strToU8('<w:document/>') }));
    const failure = await failureOf(inspectZip(path, 'docx', { ...LIMITS, maxArchiveEntries: 20 }));
    expect(failure).toMatchObject({ code: 'archive_too_large' });
    expect(failure.message).toContain('31 entries');
  });

  it('refuses an archive whose directory declares more bytes than allowed', async () => {
    const path = await fileOf(makeZipBombDocx({ declare: 'honest', inflatedBytes: 2 * 1024 * 1024 }));
    expect(
      await failureOf(inspectZip(path, 'docx', { ...LIMITS, maxUncompressedBytes: 1024 * 1024 })),
    ).toMatchObject({
      code: 'archive_too_large',
    });
    expect((await inspectZip(path, 'docx', LIMITS)).uncompressedBytes).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('refuses a decompression bomb by its absurd declared ratio, whatever the byte limit', async () => {
    const path = await fileOf(makeZipBombDocx());
    const failure = await failureOf(
      inspectZip(path, 'docx', { ...LIMITS, maxUncompressedBytes: Number.MAX_SAFE_INTEGER }),
    );
    expect(failure.code).toBe('archive_too_large');
    expect(failure.message).toContain('absurd compression ratio');
  });

  it('catches an entry that inflates past the size its directory declares', async () => {
    const path = await fileOf(makeZipBombDocx({ declare: 'small' }));
    const failure = await failureOf(inspectZip(path, 'docx', LIMITS));
    expect(failure.code).toBe('archive_too_large');
    expect(failure.message).toContain('inflates past the size it declares');
  });

  it('says encrypted for an archive with encrypted entries', async () => {
    const path = await fileOf(makeEncryptedEntryDocx());
    expect(await failureOf(inspectZip(path, 'docx', LIMITS))).toMatchObject({ code: 'encrypted' });
  });

  it('says corrupt_<type> for bytes that are not a ZIP, or a ZIP cut short', async () => {
    const notZip = await fileOf(strToU8('just some text, no archive here'));
    expect(await failureOf(inspectZip(notZip, 'xlsx', LIMITS))).toMatchObject({ code: 'corrupt_xlsx' });
    const docx = await makeDocx({ sections: [{ paragraphs: ['x'] }] });
    const truncated = await fileOf(docx.subarray(0, docx.length - 40));
    expect(await failureOf(inspectZip(truncated, 'docx', LIMITS))).toMatchObject({ code: 'corrupt_docx' });
  });

  it('refuses a DTD in an Office XML part: the billion-laughs entity bomb', async () => {
    const path = await fileOf(makeBillionLaughsDocx());
    const failure = await failureOf(inspectZip(path, 'docx', LIMITS));
    expect(failure.code).toBe('corrupt_docx');
    expect(failure.message).toContain('word/document.xml');
    expect(failure.message).toContain('document type (DTD)');
  });

  it('refuses an Office XML part that is not well-formed before its root element', async () => {
    const path = await fileOf(
      zipSync({ 'word/document.xml': strToU8('<?xml version="1.0"?><!-- x -- y --><w:document/>') }),
    );
    expect(await failureOf(inspectZip(path, 'docx', LIMITS))).toMatchObject({ code: 'corrupt_docx' });
  });

  it('allows the DTDs EPUB 2 declares but refuses one that declares entities', async () => {
    const book = await fileOf(
      makeEpub({ title: 'B', chapters: [{ title: 'C', paragraphs: ['p'] }], xhtmlQuirks: true }),
    );
    await expect(inspectZip(book, 'epub', LIMITS)).resolves.toBeDefined();
    const bomb = await fileOf(
      zipSync({
        mimetype: [strToU8('application/epub+zip'), { level: 0 }],
        'OEBPS/c.xhtml': strToU8('<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaa">]><html>&a;</html>'),
      }),
    );
    const failure = await failureOf(inspectZip(bomb, 'epub', LIMITS));
    expect(failure.code).toBe('corrupt_epub');
    expect(failure.message).toContain('declares XML entities');
  });

  it('does not mistake a DOCTYPE inside an element for a declaration', async () => {
    const path = await fileOf(
      makeRawDocx('<w:p><w:r><w:t>&lt;!DOCTYPE html&gt; is how pages start</w:t></w:r></w:p>'),
    );
    await expect(inspectZip(path, 'docx', LIMITS)).resolves.toBeDefined();
  });
});

describe('listZipEntries and readZipEntryHead', () => {
  it('lists entry names from the central directory, or null for a non-ZIP', async () => {
    const path = await fileOf(zipSync({ 'a.txt': strToU8('a'), 'dir/b.txt': strToU8('b') }));
    expect(await listZipEntries(path)).toEqual(['a.txt', 'dir/b.txt']);
    expect(await listZipEntries(await fileOf(strToU8('PK but not really')))).toBeNull();
  });

  it('reads the start of one entry', async () => {
    const path = await fileOf(zipSync({ mimetype: strToU8('application/epub+zip'), other: strToU8('x') }));
    expect((await readZipEntryHead(path, 'mimetype', 100))?.toString()).toBe('application/epub+zip');
    expect((await readZipEntryHead(path, 'mimetype', 5))?.toString()).toBe('appli');
    expect(await readZipEntryHead(path, 'missing', 100)).toBeNull();
  });
});

describe('ZipReader', () => {
  it('reads entries by name within a size limit', async () => {
    const path = await fileOf(zipSync({ 'a.txt': strToU8('hello') }));
    const zip = await ZipReader.open(path, 'corrupt_epub', LIMITS);
    try {
      expect(zip.names).toEqual(['a.txt']);
      expect((await zip.read('a.txt', 100))?.toString()).toBe('hello');
      expect(await zip.read('b.txt', 100)).toBeNull();
      expect(await failureOf(zip.read('a.txt', 3))).toMatchObject({ code: 'archive_too_large' });
    } finally {
      zip.close();
    }
  });
});
