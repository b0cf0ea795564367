import { QuarryError } from '@quarry/contracts';
import { createHmac } from 'node:crypto';
import { FirecrawlDelivery, planFirecrawlDelivery, verifyFirecrawlSignature } from './firecrawl-delivery';

const secret = 'whsec-test-secret';
const sign = (body: Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const delivery = (over: Record<string, unknown>) =>
  FirecrawlDelivery.parse({
    success: true,
    type: 'crawl.page',
    id: 'crawl-1',
    webhookId: 'w1',
    data: [],
    ...over,
  });

describe('verifyFirecrawlSignature', () => {
  const body = Buffer.from('{"type":"crawl.page"}');

  it('accepts the HMAC-SHA256 of the exact raw body, in either hex case', () => {
    expect(() => verifyFirecrawlSignature(secret, body, sign(body))).not.toThrow();
    expect(() =>
      verifyFirecrawlSignature(secret, body, sign(body).toUpperCase().replace('SHA256', 'sha256')),
    ).not.toThrow();
  });

  it.each([
    ['missing', undefined],
    ['without the sha256= prefix', sign(body).slice(7)],
    ['of another body', sign(Buffer.from('{"type":"crawl.page" }'))],
    ['with another secret', `sha256=${createHmac('sha256', 'other').update(body).digest('hex')}`],
    ['truncated', sign(body).slice(0, 40)],
  ])('refuses a signature %s with invalid_signature', (_, header) => {
    const error = (() => {
      try {
        verifyFirecrawlSignature(secret, body, header);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(QuarryError);
    expect((error as QuarryError).code).toBe('invalid_signature');
  });
});

describe('planFirecrawlDelivery', () => {
  const page = {
    markdown: '# Granite\n\nQuarried in Aberdeen.',
    metadata: {
      sourceURL: 'https://stone.example/granite',
      title: 'Granite',
      statusCode: 200,
      language: 'en',
    },
  };

  it('turns a page event into a Markdown document with its URL, title and both metadata', () => {
    const plan = planFirecrawlDelivery(delivery({ data: [page], metadata: { project: 'rocks' } }));
    expect(plan.kind).toBe('crawl');
    if (plan.kind !== 'crawl') return;
    expect(plan.close).toBeUndefined();
    const [p] = plan.pages;
    expect(p?.sourceUrl).toBe('https://stone.example/granite');
    expect(p?.filename).toBe('Granite.md');
    expect(p?.content?.contentType).toBe('text/markdown');
    expect(p?.content?.bytes.toString()).toContain('Quarried in Aberdeen');
    expect(p?.failure).toBeNull();
    expect(p?.metadata).toEqual({
      project: 'rocks',
      crawl: { source: 'firecrawl', id: 'crawl-1' },
      page: page.metadata,
    });
  });

  it('closes the crawl on completed, and on failed with the crawler error', () => {
    const done = planFirecrawlDelivery(delivery({ type: 'crawl.completed' }));
    expect(done).toMatchObject({ kind: 'crawl', close: {} });
    const failed = planFirecrawlDelivery(
      delivery({ type: 'batch_scrape.failed', success: false, error: 'quota' }),
    );
    expect(failed).toMatchObject({ kind: 'crawl', close: { error: { code: 'crawl_failed' } } });
    if (failed.kind === 'crawl') expect(failed.close?.error?.message).toContain('quota');
  });

  it('falls back to HTML, and fails pages the crawler could not fetch', () => {
    const plan = planFirecrawlDelivery(
      delivery({
        data: [
          {
            html: '<html><body><p>Basalt</p></body></html>',
            metadata: { sourceURL: 'https://stone.example/basalt' },
          },
          { markdown: 'Not found', metadata: { sourceURL: 'https://stone.example/gone', statusCode: 404 } },
          { metadata: { sourceURL: 'https://stone.example/empty', error: 'timeout' } },
        ],
      }),
    );
    if (plan.kind !== 'crawl') throw new Error('expected a crawl plan');
    const [html, missing, empty] = plan.pages;
    expect(html?.content?.contentType).toBe('text/html');
    expect(html?.filename).toBe('basalt.html');
    expect(missing?.failure?.code).toBe('url_http_error');
    expect(missing?.content).toBeNull();
    expect(empty?.failure).toMatchObject({ code: 'url_unreachable' });
    expect(empty?.failure?.message).toContain('timeout');
  });

  it('ignores events that carry no crawl (extract, agent) and unknown ones', () => {
    expect(planFirecrawlDelivery(delivery({ type: 'extract.completed' })).kind).toBe('ignored');
    expect(planFirecrawlDelivery(delivery({ type: 'crawl.paused' })).kind).toBe('ignored');
  });
});
