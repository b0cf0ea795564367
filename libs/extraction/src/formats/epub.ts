import { QuarryError } from '@quarry/contracts';
import { posix } from 'node:path';
import { sniffBom } from '../charset';
import type { Block } from '../structure/blocks';
import { type DomElement, parseXhtmlDocument } from '../structure/dom';
import { htmlToBlocks } from '../structure/html-blocks';
import { inspectZip, ZipReader } from '../zip/inspect-zip';
import { asPage, checkPageCount, pageFromBlocks } from './pages';
import type { ExtractedPage } from '../types';
import type { FormatParser } from './types';
import { DC_NS, deepText, findAll, findFirst, parseXmlTree, type XmlElement } from './xml-tree';

const CONTAINER_NS = 'urn:oasis:names:tc:opendocument:xmlns:container';
const OPF_NS = 'http://www.idpf.org/2007/opf';
const NCX_NS = 'http://www.daisy.org/z3986/2005/ncx/';
// Package files (container, OPF, NCX, encryption) are small; a larger one is not a real package file.
const MAX_PACKAGE_FILE_BYTES = 8 * 1024 * 1024;
const CONTENT_TYPES = new Set(['application/xhtml+xml', 'text/html', 'application/xml', 'text/xml']);
/** Font obfuscation (IDPF, Adobe) hides fonts from extraction; it is not DRM and leaves the text readable. */
const FONT_OBFUSCATION = new Set(['http://www.idpf.org/2008/embedding', 'http://ns.adobe.com/pdf/enc#RC']);

interface ManifestItem {
  id: string;
  path: string;
  mediaType: string;
  properties: string[];
}

/**
 * EPUB: META-INF/container.xml names the package (OPF), whose manifest and spine give the content documents in
 * reading order; each is read as XHTML (see htmlToBlocks). One page per chapter with text (cover images and empty
 * spine items produce none), labelled with its first heading or else its table-of-contents title; the title is the
 * package's dc:title. A book whose content documents META-INF/encryption.xml lists as encrypted (DRM) is
 * `encrypted`; obfuscated fonts are not. XML is read with saxes, never pattern-matched.
 */
export const parseEpub: FormatParser = async (input, sink) => {
  await inspectZip(input.path, 'epub', input.limits);
  const zip = await ZipReader.open(input.path, 'corrupt_epub', input.limits);
  try {
    const opfPath = await packagePath(zip);
    const opf = await readXml(zip, opfPath, 'package document');
    const manifest = readManifest(opf, opfPath);
    const spine = readSpine(opf, manifest);
    await refuseEncrypted(zip, manifest, spine);
    const titles = await tocTitles(zip, opf, manifest);

    const pages: ExtractedPage[] = [];
    for (const item of spine) {
      if (item.properties.includes('nav')) continue;
      const bytes = await zip.read(item.path, input.limits.maxUncompressedBytes);
      if (bytes === null) continue;
      const blocks = htmlToBlocks(parseXhtmlDocument(decodeXml(bytes)));
      if (!blocks.some(hasText)) continue;
      const heading = blocks.find((b): b is Extract<Block, { kind: 'heading' }> => b.kind === 'heading');
      const label = heading?.text ?? titles.get(item.path);
      pages.push(asPage(pageFromBlocks(pages.length + 1, blocks, label !== undefined ? { label } : {})));
      checkPageCount(pages.length, input.limits, 'chapters');
    }
    for (const page of pages) sink.page(page);
    const title = findFirst(opf, DC_NS, 'title');
    const text = title === undefined ? '' : deepText(title).replace(/\s+/g, ' ').trim();
    return text !== '' ? { title: text } : {};
  } finally {
    zip.close();
  }
};

const hasText = (block: Block): boolean =>
  block.kind === 'list'
    ? block.items.length > 0
    : block.kind === 'table'
      ? block.rows.length > 0
      : block.text.trim() !== '';

async function packagePath(zip: ZipReader): Promise<string> {
  const container = await readXml(zip, 'META-INF/container.xml', 'container');
  for (const rootfile of findAll(container, CONTAINER_NS, 'rootfile')) {
    const path = rootfile.attributes.get('full-path');
    const type = rootfile.attributes.get('media-type') ?? 'application/oebps-package+xml';
    if (path !== undefined && path !== '' && type === 'application/oebps-package+xml')
      return posix.normalize(path);
  }
  throw corrupt('META-INF/container.xml names no package document');
}

function readManifest(opf: XmlElement, opfPath: string): Map<string, ManifestItem> {
  const manifest = new Map<string, ManifestItem>();
  for (const item of findAll(opf, OPF_NS, 'item')) {
    const id = item.attributes.get('id');
    const href = item.attributes.get('href');
    if (id === undefined || href === undefined) continue;
    const path = resolveHref(opfPath, href);
    if (path === null) continue;
    manifest.set(id, {
      id,
      path,
      mediaType: (item.attributes.get('media-type') ?? '').trim().toLowerCase(),
      properties: (item.attributes.get('properties') ?? '').split(/\s+/).filter((p) => p !== ''),
    });
  }
  return manifest;
}

function readSpine(opf: XmlElement, manifest: Map<string, ManifestItem>): ManifestItem[] {
  const spine = findFirst(opf, OPF_NS, 'spine');
  if (spine === undefined) throw corrupt('the package document has no spine');
  const items: ManifestItem[] = [];
  for (const ref of findAll(spine, OPF_NS, 'itemref')) {
    const item = manifest.get(ref.attributes.get('idref') ?? '');
    if (item !== undefined && CONTENT_TYPES.has(item.mediaType)) items.push(item);
  }
  return items;
}

/**
 * A path inside the archive from an href relative to the file that holds it: fragment dropped, percent-escapes
 * decoded; null for a remote resource or one outside the archive.
 */
function resolveHref(base: string, href: string): string | null {
  const bare = href.split('#')[0]!.trim();
  if (bare === '' || /^[a-z][a-z0-9+.-]*:/i.test(bare)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(bare);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    decoded = bare;
  }
  const path = posix.normalize(posix.join(posix.dirname(base), decoded));
  return path.startsWith('../') || path.startsWith('/') ? null : path;
}

/** DRM lists the content documents it encrypts in META-INF/encryption.xml; font obfuscation is harmless. */
async function refuseEncrypted(
  zip: ZipReader,
  manifest: Map<string, ManifestItem>,
  spine: readonly ManifestItem[],
): Promise<void> {
  if (!zip.has('META-INF/encryption.xml')) return;
  const encryption = await readXml(zip, 'META-INF/encryption.xml', 'encryption list');
  const content = new Set(spine.map((item) => item.path));
  const byPath = new Map([...manifest.values()].map((item) => [item.path, item]));
  for (const data of findAll(encryption, null, 'EncryptedData')) {
    const algorithm = findFirst(data, null, 'EncryptionMethod')?.attributes.get('Algorithm') ?? '';
    const reference = findFirst(data, null, 'CipherReference')?.attributes.get('URI');
    if (reference === undefined) continue;
    // The URIs are relative to the container's root, not to the encryption file.
    const path = resolveHref('', reference);
    if (path === null) continue;
    const mediaType = byPath.get(path)?.mediaType ?? '';
    const isContent =
      content.has(path) || CONTENT_TYPES.has(mediaType) || /\.(x?html?|xml|opf|ncx)$/i.test(path);
    if (isContent && !FONT_OBFUSCATION.has(algorithm)) {
      throw new QuarryError(
        'encrypted',
        'The EPUB book is encrypted (DRM): its content documents cannot be read',
        {
          details: { entry: path, algorithm },
        },
      );
    }
  }
}

/** Chapter titles from the table of contents: the EPUB 3 navigation document, else the EPUB 2 NCX. */
async function tocTitles(
  zip: ZipReader,
  opf: XmlElement,
  manifest: Map<string, ManifestItem>,
): Promise<Map<string, string>> {
  const titles = new Map<string, string>();
  const add = (base: string, href: string | null | undefined, title: string): void => {
    const path = href === null || href === undefined ? null : resolveHref(base, href);
    const clean = title.replace(/\s+/g, ' ').trim();
    if (path !== null && clean !== '' && !titles.has(path)) titles.set(path, clean);
  };

  const nav = [...manifest.values()].find((item) => item.properties.includes('nav'));
  if (nav !== undefined) {
    const bytes = await zip.read(nav.path, MAX_PACKAGE_FILE_BYTES);
    if (bytes !== null) {
      const document = parseXhtmlDocument(decodeXml(bytes));
      const tocNav = Array.from(document.getElementsByTagName('nav')).find((element: DomElement) =>
        (element.getAttribute('epub:type') ?? '').split(/\s+/).includes('toc'),
      );
      for (const anchor of Array.from(tocNav?.getElementsByTagName('a') ?? [])) {
        add(nav.path, anchor.getAttribute('href'), anchor.textContent ?? '');
      }
    }
  }

  const ncxId = findFirst(opf, OPF_NS, 'spine')?.attributes.get('toc');
  const ncx =
    (ncxId !== undefined ? manifest.get(ncxId) : undefined) ??
    [...manifest.values()].find((item) => item.mediaType === 'application/x-dtbncx+xml');
  if (ncx !== undefined && zip.has(ncx.path)) {
    const tree = await readXml(zip, ncx.path, 'NCX table of contents');
    for (const point of findAll(tree, NCX_NS, 'navPoint')) {
      const label = point.children.find((c) => c.local === 'navLabel');
      const text = label !== undefined ? findFirst(label, NCX_NS, 'text') : undefined;
      const content = point.children.find((c) => c.local === 'content');
      if (text !== undefined) add(ncx.path, content?.attributes.get('src'), deepText(text));
    }
  }
  return titles;
}

async function readXml(zip: ZipReader, path: string, what: string): Promise<XmlElement> {
  const bytes = await zip.read(path, MAX_PACKAGE_FILE_BYTES);
  if (bytes === null) throw corrupt(`the ${what} (${path}) is missing`);
  try {
    return parseXmlTree(decodeXml(bytes));
  } catch (error) {
    throw corrupt(
      `the ${what} (${path}) is not well-formed XML: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/** EPUB's XML is UTF-8 or UTF-16 (OPS requires one of them); a BOM tells which. */
function decodeXml(bytes: Buffer): string {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bom = sniffBom(view);
  return new TextDecoder(bom?.encoding ?? 'utf-8').decode(view);
}

function corrupt(reason: string, cause?: unknown): QuarryError {
  return new QuarryError(
    'corrupt_epub',
    `The EPUB book could not be read: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}
