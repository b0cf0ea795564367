import { makeEml, makeNestedEml } from '@quarry/test-kit';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  failureOf,
  parseFixture,
  removeScratch,
  scratchDir,
  TEST_LIMITS,
} from './__fixtures__/parse-fixture';
import { parseEml, safeFileName } from './eml';

afterAll(removeScratch);

describe('parseEml', () => {
  it('gives the header block and the text body as one page, the subject as title', async () => {
    const eml = await makeEml({
      subject: 'Budget  review',
      from: 'Ann Sender <ann@example.org>',
      to: 'Bob <bob@example.org>, carol@example.org',
      cc: 'Dan <dan@example.org>',
      text: 'Hi Bob,\n\nthe numbers   are in.\nSee below.\n\n-- \nAnn',
    });
    const { pages, meta, attachments } = await parseFixture(parseEml, eml, { type: 'eml' });
    expect(meta).toEqual({ title: 'Budget review' });
    expect(attachments).toEqual([]);
    expect(pages).toEqual([
      {
        pageNumber: 1,
        label: 'message',
        text:
          'From: "Ann Sender" <ann@example.org>\nTo: "Bob" <bob@example.org>, carol@example.org\n' +
          'Cc: "Dan" <dan@example.org>\nDate: Fri, 01 Mar 2024 10:30:00 +0000\nSubject: Budget review\n\n' +
          'Hi Bob,\n\nthe numbers are in.\nSee below.\n\n--\nAnn',
      },
    ]);
  });

  it('reads the HTML part as HTML when there is no plain text part', async () => {
    const eml = await makeEml({
      subject: 'Newsletter',
      html: '<h1>Spring</h1><p>New   <b>arrivals</b>.</p><ul><li>Tulips</li></ul><script>x()</script>',
    });
    const { pages } = await parseFixture(parseEml, eml, { type: 'eml' });
    expect(pages[0]!.text.split('\n\n').slice(1)).toEqual(['Spring', 'New arrivals.', '- Tulips']);
    expect(pages[0]!.sections).toEqual([{ offset: pages[0]!.text.indexOf('Spring'), path: ['Spring'] }]);
  });

  it('writes attachments to the work folder, leaving out the inline images the HTML shows', async () => {
    const eml = await makeEml({
      subject: 'Files',
      text: 'See attached.',
      html: '<p>See attached. <img src="cid:logo@example.org"></p>',
      attachments: [
        { filename: 'report.csv', content: 'a,b\n1,2\n', contentType: 'text/csv' },
        { filename: '../../etc/passwd', content: 'not really' },
        { filename: 'logo.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), cid: 'logo@example.org' },
        { filename: 'unused.png', content: new Uint8Array([1, 2, 3]), cid: 'unused@example.org' },
      ],
    });
    const { attachments, workDir } = await parseFixture(parseEml, eml, { type: 'eml' });
    // In MIME order: the related images sit with the HTML part, before the attachments.
    expect(attachments.map((a) => [a.filename, a.contentType, a.sizeBytes])).toEqual([
      ['unused.png', 'image/png', 3],
      ['report.csv', 'text/csv', 8],
      ['passwd', 'application/octet-stream', 10],
    ]);
    for (const attachment of attachments) expect(attachment.path.startsWith(`${workDir}/`)).toBe(true);
    expect(await readFile(attachments[1]!.path, 'utf8')).toBe('a,b\n1,2\n');
    // The referenced inline image was written while the body was still unknown, then removed.
    expect((await readdir(workDir)).sort()).toEqual(
      attachments.map((a) => a.path.slice(workDir.length + 1)).sort(),
    );
  });

  it('keeps an attached e-mail as one .eml attachment of its raw bytes, not merged into this one', async () => {
    const eml = await makeNestedEml(3);
    const { pages, attachments } = await parseFixture(parseEml, eml, { type: 'eml' });
    expect(pages[0]!.text).toContain('Body of level 1');
    expect(pages[0]!.text).not.toContain('level 2');
    expect(attachments).toHaveLength(1);
    const [inner] = attachments;
    expect(inner).toMatchObject({ filename: 'level-2.eml', contentType: 'message/rfc822' });
    const raw = await readFile(inner!.path, 'utf8');
    expect(raw).toMatch(/^From: /);
    expect(raw).toContain('Subject: Level 2');
    // The third level stays inside the second: it becomes a document when the second one is parsed.
    expect(raw).toContain('Subject: Level 3');
    const second = await parseFixture(parseEml, await readFile(inner!.path), { type: 'eml' });
    expect(second.meta).toEqual({ title: 'Level 2' });
    expect(second.attachments.map((a) => a.filename)).toEqual(['level-3.eml']);
  });

  it('names an attached e-mail without a file name', async () => {
    const inner = await makeEml({ subject: 'Inner', text: 'x' });
    const eml = await makeEml({
      subject: 'Outer',
      text: 'y',
      attachments: [{ content: inner, contentType: 'message/rfc822' }],
    });
    const { attachments } = await parseFixture(parseEml, eml, { type: 'eml' });
    expect(attachments.map((a) => a.filename)).toEqual(['message-1.eml']);
  });

  it('fails with archive_too_large past the attachment limit, leaving no files behind', async () => {
    const eml = await makeEml({
      subject: 'Many',
      text: 'z',
      attachments: ['a', 'b', 'c'].map((n) => ({ filename: `${n}.txt`, content: n })),
    });
    const dir = await scratchDir();
    const path = join(dir, 'many.eml');
    const workDir = join(dir, 'work');
    await writeFile(path, eml);
    await mkdir(workDir);
    const sink = { page: jest.fn(), image: jest.fn(), attachment: jest.fn() };
    const failure = await failureOf(
      parseEml({ path, type: 'eml', workDir, limits: { ...TEST_LIMITS, maxArchiveEntries: 2 } }, sink),
    );
    expect(failure).toMatchObject({ code: 'archive_too_large' });
    expect(await readdir(workDir)).toEqual([]);
    expect(sink.attachment).not.toHaveBeenCalled();
  });
});

describe('safeFileName', () => {
  it('keeps names usable on any file system', () => {
    expect(safeFileName('report.pdf')).toBe('report.pdf');
    expect(safeFileName('../..\\evil:name?.txt')).toBe('_.._evil_name_.txt');
    expect(safeFileName('...hidden')).toBe('hidden');
    expect(safeFileName('')).toBe('attachment');
    const long = safeFileName(`${'x'.repeat(300)}.docx`);
    expect(long).toHaveLength(120);
    expect(long.endsWith('.docx')).toBe(true);
  });
});
