import { QuarryError, sanitizeFilename, type ErrorInfo } from '@quarry/contracts';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Firecrawl's webhook deliveries (crawl.* and batch_scrape.*): `{success, type, id, webhookId, data: [{markdown,
 * html?, metadata: {sourceURL, title, statusCode, …}}], metadata, error?}`. Unknown fields pass, so a newer
 * Firecrawl adding some never breaks the receiver.
 */
const PageMetadata = z
  .looseObject({
    sourceURL: z.string().optional(),
    url: z.string().optional(),
    title: z.unknown().optional(),
    statusCode: z.number().optional(),
    error: z.string().nullish(),
  })
  .optional();

const Page = z.looseObject({
  markdown: z.string().nullish(),
  html: z.string().nullish(),
  rawHtml: z.string().nullish(),
  metadata: PageMetadata,
});

export const FirecrawlDelivery = z.looseObject({
  success: z.boolean().optional(),
  type: z.string().min(1).max(100),
  id: z.string().min(1).max(200),
  webhookId: z.string().min(1).max(200).optional(),
  data: z.array(z.unknown()).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  error: z.string().nullish(),
});
export type FirecrawlDelivery = z.infer<typeof FirecrawlDelivery>;

/** One delivered page, ready to become a document (content present) or a failed one (content absent). */
export interface DeliveredPage {
  sourceUrl: string | null;
  title: string | null;
  filename: string;
  /** Markdown (preferred) or HTML; null when the crawler could not fetch the page. */
  content: { bytes: Buffer; contentType: 'text/markdown' | 'text/html' } | null;
  httpStatus: number | null;
  failure: ErrorInfo | null;
  metadata: Record<string, unknown>;
}

export type DeliveryPlan =
  | { kind: 'ignored'; reason: string }
  | { kind: 'crawl'; crawlId: string; pages: DeliveredPage[]; close?: { error?: ErrorInfo } };

const MAX_PAGE_METADATA_BYTES = 8 * 1024;

/** Checks `X-Firecrawl-Signature: sha256=<hex HMAC-SHA256 of the raw body>` in constant time. */
export function verifyFirecrawlSignature(secret: string, rawBody: Buffer, header: string | undefined): void {
  const match = header === undefined ? null : /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match?.[1]) {
    throw new QuarryError('invalid_signature', 'missing or malformed X-Firecrawl-Signature (sha256=<hex>)');
  }
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1], 'hex');
  if (!timingSafeEqual(expected, given)) {
    throw new QuarryError('invalid_signature', 'X-Firecrawl-Signature does not match the body');
  }
}

/**
 * What a delivery asks of Quarry: pages to add to the crawl's job, and whether the crawl ended. Events that carry no
 * crawl of documents (extract.*, agent.*, monitor.*) are acknowledged and ignored.
 */
export function planFirecrawlDelivery(delivery: FirecrawlDelivery): DeliveryPlan {
  const [family, event] = splitType(delivery.type);
  if (family !== 'crawl' && family !== 'batch_scrape') {
    return { kind: 'ignored', reason: `${delivery.type} events carry no pages to ingest` };
  }
  const callerMetadata = delivery.metadata ?? {};
  const pages = (delivery.data ?? []).map((item) => toPage(item, delivery, callerMetadata));
  switch (event) {
    case 'started':
    case 'page':
      return { kind: 'crawl', crawlId: delivery.id, pages };
    case 'completed':
      return { kind: 'crawl', crawlId: delivery.id, pages, close: {} };
    case 'failed':
      return {
        kind: 'crawl',
        crawlId: delivery.id,
        pages,
        close: {
          error: {
            code: 'crawl_failed',
            message: `the crawler reported: ${delivery.error ?? 'crawl failed'}`,
          },
        },
      };
    default:
      return { kind: 'ignored', reason: `${delivery.type} is not an event Quarry acts on` };
  }
}

function splitType(type: string): [string, string] {
  const at = type.lastIndexOf('.');
  return at === -1 ? [type, ''] : [type.slice(0, at), type.slice(at + 1)];
}

function toPage(
  item: unknown,
  delivery: FirecrawlDelivery,
  callerMetadata: Record<string, unknown>,
): DeliveredPage {
  const parsed = Page.safeParse(item);
  const page = parsed.success ? parsed.data : { metadata: undefined };
  const meta = page.metadata ?? {};
  const sourceUrl = meta.sourceURL ?? meta.url ?? null;
  const title = typeof meta.title === 'string' && meta.title.trim() !== '' ? meta.title.trim() : null;
  const httpStatus = meta.statusCode ?? null;
  const markdown = 'markdown' in page ? page.markdown : null;
  const html = 'html' in page ? (page.html ?? page.rawHtml) : null;
  const content =
    markdown && markdown.trim() !== ''
      ? { bytes: Buffer.from(markdown, 'utf8'), contentType: 'text/markdown' as const }
      : html && html.trim() !== ''
        ? { bytes: Buffer.from(html, 'utf8'), contentType: 'text/html' as const }
        : null;
  const failure: ErrorInfo | null =
    httpStatus !== null && httpStatus >= 400
      ? {
          code: 'url_http_error',
          message: `the crawler got HTTP ${httpStatus} for ${sourceUrl ?? 'this page'}`,
        }
      : delivery.success === false || content === null
        ? {
            code: 'url_unreachable',
            message: `the crawler delivered no content for ${sourceUrl ?? 'this page'}${
              (meta.error ?? delivery.error) ? `: ${meta.error ?? delivery.error}` : ''
            }`,
          }
        : null;
  return {
    sourceUrl,
    title,
    filename: pageFilename(title, sourceUrl, content?.contentType === 'text/html' ? '.html' : '.md'),
    content: failure ? null : content,
    httpStatus,
    failure,
    metadata: {
      ...callerMetadata,
      crawl: { source: 'firecrawl', id: delivery.id },
      page: boundedMetadata(meta),
    },
  };
}

function pageFilename(title: string | null, sourceUrl: string | null, ext: string): string {
  let base = title;
  if (base === null && sourceUrl !== null && URL.canParse(sourceUrl)) {
    const u = new URL(sourceUrl);
    base =
      u.pathname
        .split('/')
        .filter((s) => s !== '')
        .pop() ?? u.hostname;
  }
  return sanitizeFilename(`${(base ?? 'page').slice(0, 200)}${ext}`);
}

/** The crawler's page metadata as given, unless it is unreasonably large (then the essentials only). */
function boundedMetadata(meta: Record<string, unknown>): Record<string, unknown> {
  if (Buffer.byteLength(JSON.stringify(meta)) <= MAX_PAGE_METADATA_BYTES) return meta;
  const { sourceURL, url, title, statusCode, description, language } = meta;
  return Object.fromEntries(
    Object.entries({ sourceURL, url, title, statusCode, description, language }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}
