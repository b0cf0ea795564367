import type { ErrorCode } from '@quarry/contracts';
import {
  makeBillionLaughsDocx,
  makeEncryptedPdf,
  makeManyPagePdf,
  makeNestedEml,
  makePdfWithJavaScript,
  makeTestPdf,
  makeTiffPixelBomb,
  makeTruncatedJpeg,
  makeZipBombDocx,
} from '@quarry/testing';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { QuarryStack } from './stack';

// The hostile corpus of issue 8 in one job beside good documents: every hostile document fails with its own
// reason, the good ones are indexed, and the ingest worker process is the same one at the end.

describe('hostile documents cannot take the ingest worker down', () => {
  let stack: QuarryStack;

  beforeAll(async () => {
    stack = await QuarryStack.start('hostile', {
      // Small limits, so the bombs hit them quickly; the defaults are tested by the unit tiers.
      PARSER_MAX_MEMORY_MB: '256',
      PARSER_TIMEOUT_MS: '60000',
      INGEST_CONCURRENCY: '3',
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('fails each hostile document with its reason while the others of the same job succeed', async () => {
    const worker = stack.apps['ingest-worker'];
    const pidBefore = worker.pid;
    const cases: { name: string; bytes: Uint8Array; fails?: ErrorCode }[] = [
      { name: 'bomb.docx', bytes: makeZipBombDocx(), fails: 'archive_too_large' },
      { name: 'laughs.docx', bytes: makeBillionLaughsDocx(), fails: 'corrupt_docx' },
      { name: 'pixels.tiff', bytes: makeTiffPixelBomb(), fails: 'too_many_pixels' },
      {
        name: 'secret.pdf',
        bytes: makeEncryptedPdf('Top secret quarry plans.', 'hunter2'),
        fails: 'encrypted_pdf',
      },
      { name: 'pages.pdf', bytes: await makeManyPagePdf(5000), fails: 'too_many_pages' },
      { name: 'cut.jpg', bytes: await makeTruncatedJpeg(['A photo cut in half']), fails: 'corrupt_image' },
      {
        name: 'script.pdf',
        bytes: await makePdfWithJavaScript(['Scripts never run here; the text is read.']),
      },
      { name: 'nested.eml', bytes: await makeNestedEml(50) },
      { name: 'good.pdf', bytes: await makeTestPdf([['A good document among bad ones.']]) },
      { name: 'good.txt', bytes: new TextEncoder().encode('Plain text survives the storm.\n') },
    ];
    const upload = await stack.upload(cases.map((c) => ({ name: c.name, bytes: c.bytes })));
    expect(upload.status).toBe(202);
    const job = await stack.waitForTerminal(upload.body.id, 240_000);
    expect(job.status).toBe('completed_with_failures');

    const outcome = (name: string) => {
      const doc = job.documents.find((d) => d.filename === name);
      return doc?.status === 'indexed' ? 'indexed' : (doc?.error?.code ?? doc?.status);
    };
    const got = Object.fromEntries(cases.map((c) => [c.name, outcome(c.name)]));
    const want = Object.fromEntries(cases.map((c) => [c.name, c.fails ?? 'indexed']));
    expect(got).toEqual(want);
    // A document that failed still says what its bytes were.
    const detected = (name: string) => job.documents.find((d) => d.filename === name)?.detectedType;
    expect([
      detected('cut.jpg'),
      detected('pixels.tiff'),
      detected('bomb.docx'),
      detected('pages.pdf'),
    ]).toEqual(['jpeg', 'tiff', 'docx', 'pdf']);

    // The e-mail nested 50 deep: each level is a document of its own down to MAX_NESTING_DEPTH (5), and the
    // one below that is refused.
    const nested = job.documents.filter((d) => /^level-\d+\.eml$/.test(d.filename));
    expect(nested.filter((d) => d.status === 'indexed').map((d) => d.filename)).toEqual([
      'level-2.eml',
      'level-3.eml',
      'level-4.eml',
      'level-5.eml',
      'level-6.eml',
    ]);
    expect(nested.filter((d) => d.status === 'failed').map((d) => [d.filename, d.error?.code])).toEqual([
      ['level-7.eml', 'too_deeply_nested'],
    ]);

    // No restart: the same process did all of it, and still takes work.
    expect(worker.pid).toBe(pidBefore);
    expect(worker.running).toBe(true);
    const after = await stack.upload([
      { name: 'after.txt', bytes: new TextEncoder().encode('Still here.\n') },
    ]);
    expect((await stack.waitForTerminal(after.body.id)).status).toBe('succeeded');
  }, 300_000);

  it('keeps the Firecrawl receiver off while FIRECRAWL_WEBHOOK_SECRET is unset', async () => {
    const r = await stack.request<{ code: string }>('POST', '/v1/ingest/firecrawl', {
      json: { success: true, type: 'crawl.page', id: 'c1', webhookId: 'w1', data: [] },
      headers: { 'x-firecrawl-signature': `sha256=${'0'.repeat(64)}` },
    });
    expect([r.status, r.body.code]).toEqual([404, 'feature_disabled']);
  });

  it('refuses a loopback URL when URL_FETCH_ALLOW_HOSTS does not list it', async () => {
    const server = http.createServer((_req, res) => res.end('private data'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notes.md`;
      const r = await stack.request<{ id: string }>('POST', '/v1/documents', { json: { urls: [url] } });
      expect(r.status).toBe(202);
      const job = await stack.waitForTerminal(r.body.id);
      expect(job.status).toBe('failed');
      expect(job.documents[0]?.error?.code).toBe('url_forbidden');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
