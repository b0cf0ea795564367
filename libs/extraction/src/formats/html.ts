import { QuarryError } from '@quarry/contracts';
import { Readability } from '@mozilla/readability';
import iconv from 'iconv-lite';
import { readFile } from 'node:fs/promises';
import { sniffBom } from '../charset';
import { decodeText, normaliseText } from '../decode-text';
import type { Block } from '../structure/blocks';
import { parseHtmlDocument, type DomDocument } from '../structure/dom';
import { htmlToBlocks } from '../structure/html-blocks';
import { asPage, pageFromBlocks } from './pages';
import type { FormatParser } from './types';

// The HTML standard's prescan looks for a declared encoding in the first 1024 bytes.
const PRESCAN_BYTES = 1024;
// Below this much text Readability has found a fragment (a cookie notice, a caption), not the article.
const MIN_ARTICLE_CHARS = 200;
// Page chrome (a banner, an ad box, a menu) holds less of a page's text than this share.
const MAX_CHROME_SHARE = 0.25;
// Readability found the article when its text is at least this share of what the whole page says.
const FRAGMENT_SHARE = 0.3;
/**
 * Class and id words of page chrome outside the article, as Readability's own "unlikely candidates" list names
 * them: removed when small (see withoutChrome). Consent notices and ads are never content, whatever their size.
 */
const CHROME =
  /(^|[-_\s])(banner|newsletter|subscribe|social|share|sidebar|related|breadcrumbs?|popup|modal|comments?|menu|nav\w*|skip-link)([-_\s]|$)/i;
const NEVER_CONTENT = /(^|[-_\s])(cookies?|consent|gdpr|ads?|advert\w*|sponsor\w*|promo\w*)([-_\s]|$)/i;
// Readability scores every element repeatedly; on a page this large the plain body walk is the affordable reading.
const MAX_READABILITY_ELEMENTS = 50_000;

/**
 * An HTML page as one page of its main content: Mozilla Readability picks the article out of the navigation,
 * sidebars, ads, banners and footers; when it finds none (or next to nothing), the whole body is read with the
 * page chrome skipped (see htmlToBlocks). The title (Readability's, else `<title>`) heads the page as its outermost
 * section, so every heading of the article sits under it.
 */
export const parseHtml: FormatParser = async (input, sink) => {
  const html = decodeHtml(new Uint8Array(await readFile(input.path)));
  let document;
  try {
    document = parseHtmlDocument(html);
  } catch (error) {
    throw new QuarryError('corrupt_html', `The HTML document could not be parsed: ${String(error)}`, {
      cause: error,
    });
  }
  // A page that leaves out <html> and <head> (HTML allows it) still has its <title>, though not where linkedom looks.
  const pageTitle = (document.title || (document.querySelector('title')?.textContent ?? ''))
    .replace(/\s+/g, ' ')
    .trim();
  // Readability rearranges the document it is given, so the fallback reads a fresh parse.
  const fallback = htmlToBlocks(withoutChrome(parseHtmlDocument(html)));
  const article = readArticle(html);
  // A fragment is a small share of the page: a short article on a small page is still the article.
  const fragment = Math.min(MIN_ARTICLE_CHARS, FRAGMENT_SHARE * blocksChars(fallback));
  const blocks = article !== null && article.chars >= fragment ? article.blocks : fallback;
  const title = (article?.title ?? '') !== '' ? article!.title : pageTitle;
  const page = pageFromBlocks(1, title !== '' ? withTitle(blocks, title) : blocks);
  sink.page(asPage(page));
  return title !== '' ? { title } : {};
};

interface Article {
  title: string;
  blocks: Block[];
  chars: number;
}

function readArticle(html: string): Article | null {
  // Consent banners and ad boxes are never the article; on a small page Readability might otherwise pick one.
  const document = withoutChrome(parseHtmlDocument(html));
  let parsed;
  try {
    // Readability is typed against the DOM lib this workspace does not load; linkedom's document is what it needs.
    parsed = new Readability(document, {
      charThreshold: 250,
      maxElemsToParse: MAX_READABILITY_ELEMENTS,
    }).parse();
  } catch (error) {
    // Past its element limit (or on markup it cannot handle) Readability throws: the whole body is read instead.
    if (error instanceof Error) return null;
    throw error;
  }
  if (parsed === null || typeof parsed.content !== 'string') return null;
  const blocks = htmlToBlocks(
    parseHtmlDocument(`<!doctype html><html><body>${parsed.content}</body></html>`),
  );
  return { title: (parsed.title ?? '').replace(/\s+/g, ' ').trim(), blocks, chars: blocksChars(blocks) };
}

/**
 * The document with the chrome CHROME names removed. Chrome is small: an element holding a large share of the
 * page's text is a wrapper whatever its class says (`<body class="sidebar-visible">`, `<div class="has-menu">`),
 * and is kept, as is anything inside <article> or <main>.
 */
function withoutChrome(document: DomDocument): DomDocument {
  const body = document.getElementsByTagName('body')[0];
  const total = (body?.textContent ?? '').length;
  for (const element of Array.from(document.querySelectorAll('[class], [id]'))) {
    const tag = element.localName.toLowerCase();
    if (tag === 'html' || tag === 'body' || tag === 'main' || tag === 'article') continue;
    const words = `${element.getAttribute('class') ?? ''} ${element.getAttribute('id') ?? ''}`;
    if (element.closest('article, main') !== null) continue;
    const small = (element.textContent ?? '').length <= MAX_CHROME_SHARE * total;
    if (NEVER_CONTENT.test(words) || (CHROME.test(words) && small)) element.remove();
  }
  return document;
}

function blocksChars(blocks: readonly Block[]): number {
  let chars = 0;
  for (const block of blocks) {
    if (block.kind === 'list') chars += block.items.join('').length;
    else if (block.kind === 'table') chars += block.rows.flat().join('').length;
    else chars += block.text.trim().length;
  }
  return chars;
}

/** The title as the page's outermost heading (level 0, so the article's own h1s nest under it), said once. */
function withTitle(blocks: readonly Block[], title: string): Block[] {
  const rest = [...blocks];
  const first = rest[0];
  if (first?.kind === 'heading' && sameText(first.text, title)) rest.shift();
  return [{ kind: 'heading', level: 0, text: title }, ...rest];
}

const sameText = (a: string, b: string): boolean =>
  a.replace(/\s+/g, ' ').trim().toLowerCase() === b.replace(/\s+/g, ' ').trim().toLowerCase();

/**
 * HTML bytes as text, as a browser decodes them: a BOM first, then the charset the page declares in its first
 * 1024 bytes (`<meta charset>` or `<meta http-equiv="Content-Type">`, found by the HTML parser itself), then the
 * charset detection plain text gets. A page that declares UTF-8 but is not is detected instead.
 */
export function decodeHtml(bytes: Uint8Array): string {
  const bom = sniffBom(bytes);
  if (bom !== null) return normaliseText(new TextDecoder(bom.encoding).decode(bytes));
  const declared = declaredCharset(bytes);
  if (declared !== null) {
    if (declared === 'utf-8') {
      const strict = strictUtf8(bytes);
      if (strict !== null) return normaliseText(strict);
    } else {
      return normaliseText(
        iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), declared),
      );
    }
  }
  return decodeText(bytes).text;
}

function declaredCharset(bytes: Uint8Array): string | null {
  // Latin-1 maps every byte to one character, so an ASCII-compatible declaration reads the same in any charset.
  const head = Buffer.from(
    bytes.buffer,
    bytes.byteOffset,
    Math.min(bytes.byteLength, PRESCAN_BYTES),
  ).toString('latin1');
  const document = parseHtmlDocument(head);
  let label = document.querySelector('meta[charset]')?.getAttribute('charset') ?? null;
  if (label === null) {
    for (const meta of Array.from(document.querySelectorAll('meta[http-equiv][content]'))) {
      if (meta.getAttribute('http-equiv')?.trim().toLowerCase() !== 'content-type') continue;
      label = charsetParameter(meta.getAttribute('content') ?? '');
      if (label !== null) break;
    }
  }
  return label === null ? null : normaliseLabel(label);
}

function charsetParameter(contentType: string): string | null {
  for (const parameter of contentType.split(';').slice(1)) {
    const [name, ...value] = parameter.split('=');
    if (name?.trim().toLowerCase() === 'charset')
      return value
        .join('=')
        .trim()
        .replace(/^["']|["']$/g, '');
  }
  return null;
}

/** WHATWG label handling, as far as it matters: latin1 means Windows-1252, a UTF-16 declaration in meta means UTF-8. */
function normaliseLabel(label: string): string | null {
  const lower = label.trim().toLowerCase();
  if (lower === '') return null;
  if (['utf-8', 'utf8', 'unicode-1-1-utf-8', 'utf-16', 'utf-16le', 'utf-16be'].includes(lower))
    return 'utf-8';
  if (['iso-8859-1', 'latin1', 'iso8859-1', 'l1', 'us-ascii', 'ascii', 'cp1252'].includes(lower))
    return 'windows-1252';
  return iconv.encodingExists(lower) ? lower : null;
}

function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    // Under Jest the TypeError comes from another realm, so the code identifies it rather than instanceof.
    if ((error as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return null;
    throw error;
  }
}
