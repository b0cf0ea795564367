import {
  HTML_CHROME_TEXTS,
  makeDocx,
  makeEml,
  makeHtmlArticle,
  makeMultiPageTiff,
  makePptx,
  makeRotatedPhotoJpeg,
  makeScannedPdf,
  makeTestPdf,
  makeXlsx,
  waitFor,
} from '@quarry/testing';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { QuarryStack, type JobBody } from './stack';

// Issue 8 end to end, through the three apps on the real NATS and PostgreSQL: every kind of document a user
// throws at Quarry, URLs fetched through the SSRF guard, and Firecrawl's webhook deliveries.

const FIRECRAWL_SECRET = 'e2e-firecrawl-webhook-secret';

/** One sentence per document, each about something else, so a search for it can only find that document. */
const SENTENCES = {
  scan: 'The harbour master recorded eleven fishing boats returning before the storm.',
  photo: 'Please return the library books to the north desk before Friday.',
  tiffOne: 'Invoice number forty two covers the replacement of the boiler valves.',
  tiffTwo: 'The second fax page lists the engineers who inspected the boiler.',
  docx: 'Quarterly revenue from the granite quarry rose by nine percent.',
  docxTable: 'Aberdeen',
  pptx: 'Our volunteers planted three hundred oak saplings along the river.',
  pptxNotes: 'Remind the audience that the saplings need watering in August.',
  xlsx: 'Telescope mirror polishing',
  html: 'Astronomers observed a comet passing unusually close to Jupiter last winter.',
  eml: 'The caterers confirmed vegetarian lunches for the board meeting.',
  emlAttachment: 'Minutes: the board approved the new bicycle parking shelter.',
  url: 'Beekeepers reported that the lavender honey harvest doubled this summer.',
  crawlOne: 'Glaciers in the valley retreated forty metres over the last decade.',
  crawlTwo: 'Migrating cranes rest at the lake every October on their way south.',
} as const;

interface DocumentBody {
  id: string;
  status: string;
  detectedType: string | null;
  error: { code: string; message: string } | null;
  lowConfidencePages: number[];
  source: string;
  sourceUrl: string | null;
  finalUrl: string | null;
  httpStatus: number | null;
  parentDocumentId: string | null;
  metadata: Record<string, unknown>;
  pages: {
    pageNumber: number;
    text: string;
    method: string;
    ocrConfidence: number | null;
    label: string | null;
  }[];
}

interface SearchBody {
  results: { documentId: string; text: string; page: number }[];
}

/** A small web server on loopback for URL ingest: an article, a redirect to cloud metadata, a 404. */
async function startSite(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/notes.md') {
      res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8' });
      res.end(`# Bee notes\n\n${SENTENCES.url}\n`);
    } else if (req.url === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('documents of every kind, URLs and crawler deliveries', () => {
  let stack: QuarryStack;
  let site: { server: http.Server; port: number };
  let db: Client;

  beforeAll(async () => {
    site = await startSite();
    stack = await QuarryStack.start('documents', {
      URL_FETCH_ALLOW_HOSTS: `127.0.0.1:${site.port}`,
      FIRECRAWL_WEBHOOK_SECRET: FIRECRAWL_SECRET,
      INGEST_CONCURRENCY: '3',
    });
    db = new Client({ connectionString: stack.db.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    await new Promise((resolve) => site?.server.close(resolve));
  });

  const documentOf = async (id: string) => {
    const r = await stack.request<DocumentBody>('GET', `/v1/documents/${id}`);
    expect(r.status).toBe(200);
    return r.body;
  };

  async function findsIn(documentId: string, query: string): Promise<boolean> {
    const r = await stack.request<SearchBody>('POST', '/v1/search', { json: { query, topK: 10 } });
    expect(r.status).toBe(200);
    return r.body.results.some((hit) => hit.documentId === documentId);
  }

  it('reads scans, photos, TIFFs, Office files, web pages and e-mails, and search finds each', async () => {
    const attachedPdf = await makeTestPdf([['Board minutes', '', SENTENCES.emlAttachment]]);
    const files = {
      'scan.pdf': await makeScannedPdf([['Harbour log', '', SENTENCES.scan]]),
      'photo.jpg': await makeRotatedPhotoJpeg(['Library notice', '', SENTENCES.photo]),
      'fax.tiff': await makeMultiPageTiff([
        ['Fax page one', '', SENTENCES.tiffOne],
        ['Fax page two', '', SENTENCES.tiffTwo],
      ]),
      'report.docx': await makeDocx({
        title: 'Quarry report',
        sections: [
          { heading: 'Results', paragraphs: [SENTENCES.docx] },
          {
            heading: 'Sites',
            table: [
              ['Site', 'Tonnes'],
              [SENTENCES.docxTable, '1200'],
              ['Carrara', '900'],
            ],
          },
        ],
      }),
      'deck.pptx': await makePptx([
        { title: 'Tree planting', body: [SENTENCES.pptx], notes: SENTENCES.pptxNotes },
        { title: 'Next steps', bullets: ['Water the saplings', 'Count survivors'] },
      ]),
      'budget.xlsx': await makeXlsx([
        {
          name: 'Costs',
          rows: [
            ['Item', 'Cost'],
            [SENTENCES.xlsx, 4200],
            ['Dome repairs', 1800],
          ],
        },
      ]),
      'article.html': makeHtmlArticle({
        title: 'Comet watch',
        paragraphs: [SENTENCES.html, 'More to follow.'],
      }),
      'mail.eml': await makeEml({
        subject: 'Board meeting lunch',
        text: SENTENCES.eml,
        attachments: [{ filename: 'minutes.pdf', content: attachedPdf, contentType: 'application/pdf' }],
      }),
    };
    const upload = await stack.upload(Object.entries(files).map(([name, bytes]) => ({ name, bytes })));
    expect(upload.status).toBe(202);

    const job = await stack.waitForTerminal(upload.body.id, 240_000);
    const problems = job.documents.filter((d) => d.status !== 'indexed');
    expect(problems).toEqual([]);
    expect(job.status).toBe('succeeded');
    // The e-mail's attachment became a document of the same job.
    expect(job.documents).toHaveLength(Object.keys(files).length + 1);

    const byName = new Map(job.documents.map((d) => [d.filename, d.id]));
    const idOf = (name: string): string => {
      const id = byName.get(name);
      if (!id) throw new Error(`no document ${name} in ${[...byName.keys()].join(', ')}`);
      return id;
    };

    const scan = await documentOf(idOf('scan.pdf'));
    expect(scan.detectedType).toBe('pdf');
    expect(scan.pages[0]).toMatchObject({ method: 'ocr' });
    expect(scan.pages[0]?.ocrConfidence).toBeGreaterThan(70);
    expect(scan.pages[0]?.text).toContain('eleven fishing boats');

    const photo = await documentOf(idOf('photo.jpg'));
    expect(photo.detectedType).toBe('jpeg');
    expect(photo.pages[0]?.text).toContain('library books');

    const fax = await documentOf(idOf('fax.tiff'));
    expect(fax.pages.map((p) => p.pageNumber)).toEqual([1, 2]);
    expect(fax.pages[1]?.text).toContain('engineers who inspected');

    const docx = await documentOf(idOf('report.docx'));
    expect(docx.pages[0]?.text).toContain('Site: Aberdeen | Tonnes: 1200');

    const deck = await documentOf(idOf('deck.pptx'));
    expect(deck.pages.map((p) => p.label)).toEqual(['Tree planting', 'Next steps']);
    expect(deck.pages[0]?.text).toContain('watering in August');

    const html = await documentOf(idOf('article.html'));
    expect(html.detectedType).toBe('html');
    for (const chrome of Object.values(HTML_CHROME_TEXTS)) expect(html.pages[0]?.text).not.toContain(chrome);
    const navChunks = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM chunks WHERE document_id = $1 AND (text LIKE $2 OR text LIKE $3)`,
      [html.id, `%${HTML_CHROME_TEXTS.nav}%`, `%${HTML_CHROME_TEXTS.footer}%`],
    );
    expect(navChunks.rows[0]?.n).toBe(0);

    const attachment = job.documents.find((d) => d.filename === 'minutes.pdf');
    expect(attachment).toBeDefined();
    const attached = await documentOf(attachment!.id);
    expect(attached).toMatchObject({
      source: 'attachment',
      parentDocumentId: idOf('mail.eml'),
      detectedType: 'pdf',
    });

    const searches: [string, string][] = [
      [idOf('scan.pdf'), SENTENCES.scan],
      [idOf('photo.jpg'), SENTENCES.photo],
      [idOf('fax.tiff'), SENTENCES.tiffTwo],
      [idOf('report.docx'), SENTENCES.docx],
      [idOf('deck.pptx'), SENTENCES.pptx],
      [idOf('budget.xlsx'), `${SENTENCES.xlsx} cost`],
      [idOf('article.html'), SENTENCES.html],
      [idOf('mail.eml'), SENTENCES.eml],
      [attachment!.id, SENTENCES.emlAttachment],
    ];
    const missed = [];
    for (const [documentId, query] of searches) if (!(await findsIn(documentId, query))) missed.push(query);
    expect(missed).toEqual([]);
  }, 300_000);

  it('fetches URL documents through the SSRF guard: an allowed host is read, a redirect to metadata refused', async () => {
    const base = `http://127.0.0.1:${site.port}`;
    const r = await stack.request<{ id: string }>('POST', '/v1/documents', {
      json: {
        urls: [`${base}/notes.md`, `${base}/to-metadata`, `${base}/missing`],
        metadata: { project: 'bees' },
      },
    });
    expect(r.status).toBe(202);
    const job = await stack.waitForTerminal(r.body.id);
    expect(job.status).toBe('completed_with_failures');
    const [notes, metadata, missing] = await Promise.all(job.documents.map((d) => documentOf(d.id)));

    expect(notes).toMatchObject({
      status: 'indexed',
      detectedType: 'markdown',
      source: 'url',
      sourceUrl: `${base}/notes.md`,
      finalUrl: `${base}/notes.md`,
      httpStatus: 200,
      metadata: { project: 'bees' },
    });
    expect(notes?.pages[0]?.text).toContain('lavender honey');
    expect(await findsIn(notes!.id, SENTENCES.url)).toBe(true);

    expect(metadata?.status).toBe('failed');
    expect(metadata?.error?.code).toBe('url_forbidden');
    expect(metadata?.error?.message).toContain('169.254.169.254');
    expect(missing?.error?.code).toBe('url_http_error');
    expect(missing?.httpStatus).toBe(404);
  });

  it('refuses URL bodies that are not fetchable before any job exists', async () => {
    for (const urls of [[], ['ftp://example.com/file'], ['http://user:secret@example.com/'], ['not a url']]) {
      const r = await stack.request<{ code: string }>('POST', '/v1/documents', { json: { urls } });
      expect([r.status, r.body.code]).toEqual([400, 'validation_failed']);
    }
    const text = await stack.request<{ code: string }>('POST', '/v1/documents', {
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
  });

  describe('Firecrawl deliveries', () => {
    const crawlId = randomUUID();

    async function deliver(body: unknown, options: { secret?: string } = {}) {
      const raw = JSON.stringify(body);
      const signature = createHmac('sha256', options.secret ?? FIRECRAWL_SECRET)
        .update(raw)
        .digest('hex');
      const started = performance.now();
      const response = await fetch(`${stack.baseUrl}/v1/ingest/firecrawl`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.apiKey}`,
          'content-type': 'application/json',
          'x-firecrawl-signature': `sha256=${signature}`,
        },
        body: raw,
      });
      const text = await response.text();
      return {
        status: response.status,
        ms: performance.now() - started,
        body: (text ? JSON.parse(text) : null) as {
          jobId?: string;
          documents?: number;
          duplicate?: boolean;
          code?: string;
        },
      };
    }

    const pageEvent = (webhookId: string, url: string, title: string, sentence: string) => ({
      success: true,
      type: 'crawl.page',
      id: crawlId,
      webhookId,
      data: [
        { markdown: `# ${title}\n\n${sentence}\n`, metadata: { sourceURL: url, title, statusCode: 200 } },
      ],
      metadata: { team: 'geography' },
    });

    it('turns a signed crawl into one job whose pages are searchable; bad signatures and repeats change nothing', async () => {
      const first = await deliver(
        pageEvent('wh-1', 'https://nature.example/glaciers', 'Glaciers', SENTENCES.crawlOne),
      );
      expect(first.status).toBe(200);
      expect(first.ms).toBeLessThan(1000);
      const jobId = first.body.jobId;
      expect(jobId).toBeDefined();
      expect(first.body.documents).toBe(1);

      const forged = await deliver(
        pageEvent('wh-x', 'https://nature.example/forged', 'Forged', 'Nothing true.'),
        {
          secret: 'not-the-secret',
        },
      );
      expect([forged.status, forged.body.code]).toEqual([401, 'invalid_signature']);

      const second = await deliver(
        pageEvent('wh-2', 'https://nature.example/cranes', 'Cranes', SENTENCES.crawlTwo),
      );
      expect(second.body.jobId).toBe(jobId);
      const repeat = await deliver(
        pageEvent('wh-2', 'https://nature.example/cranes', 'Cranes', SENTENCES.crawlTwo),
      );
      expect(repeat.body).toMatchObject({ duplicate: true, documents: 0, jobId });

      // The job waits for the crawl to end even once its pages are indexed.
      const running = await waitFor(
        async () => {
          const job = await stack.job(jobId!);
          return job.documents.every((d) => d.status === 'indexed') ? job : undefined;
        },
        { timeoutMs: 60_000, description: 'crawl pages indexed' },
      );
      expect(running.status).not.toBe('succeeded');

      const completed = await deliver({
        success: true,
        type: 'crawl.completed',
        id: crawlId,
        webhookId: 'wh-3',
        data: [],
      });
      expect(completed.status).toBe(200);
      const job: JobBody = await stack.waitForTerminal(jobId!);
      expect(job.status).toBe('succeeded');
      expect(job.documents).toHaveLength(2);
      const glaciers = await documentOf(job.documents[0]!.id);
      expect(glaciers).toMatchObject({
        source: 'crawl',
        sourceUrl: 'https://nature.example/glaciers',
        detectedType: 'markdown',
        metadata: { team: 'geography', crawl: { source: 'firecrawl', id: crawlId } },
      });
      expect(await findsIn(job.documents[0]!.id, SENTENCES.crawlOne)).toBe(true);
      expect(await findsIn(job.documents[1]!.id, SENTENCES.crawlTwo)).toBe(true);
    });
  });
});
