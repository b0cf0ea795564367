import { QuarryError } from '@quarry/contracts';
import mammoth from 'mammoth';
import { parseHtmlDocument } from '../structure/dom';
import { htmlToBlocks } from '../structure/html-blocks';
import { inspectZip, ZipReader } from '../zip/inspect-zip';
import { asPage, pageFromBlocks } from './pages';
import type { FormatParser, ParsedMeta, ParseInput } from './types';
import { DC_NS, deepText, findFirst, parseXmlTree } from './xml-tree';

// Document properties are a few hundred bytes; anything near this is not a properties part.
const MAX_CORE_PROPERTIES_BYTES = 1024 * 1024;

/**
 * Word (DOCX) through mammoth's HTML conversion, read as HTML (see htmlToBlocks): headings from Word's heading
 * styles become sections, tables come through row by row (a "repeat as header row" row is the header), lists keep
 * their items, footnotes follow the text. Images are left out without being inflated. One page; the core title
 * (docProps/core.xml) is the document's title.
 */
export const parseDocx: FormatParser = async (input, sink) => {
  await inspectZip(input.path, 'docx', input.limits);
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { path: input.path },
      {
        // No image is read at all: its bytes would only be base64 in the HTML, and it has no text here.
        convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })),
        externalFileAccess: false,
      },
    );
    html = result.value;
  } catch (error) {
    throw new QuarryError('corrupt_docx', `The DOCX document could not be read: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const blocks = htmlToBlocks(parseHtmlDocument(`<!doctype html><html><body>${html}</body></html>`));
  sink.page(asPage(pageFromBlocks(1, blocks)));
  return coreTitle(input);
};

/** dc:title of the OOXML core properties part, when the document has one. */
async function coreTitle(input: ParseInput): Promise<ParsedMeta> {
  const zip = await ZipReader.open(input.path, 'corrupt_docx', input.limits);
  try {
    const xml = await zip.read('docProps/core.xml', MAX_CORE_PROPERTIES_BYTES);
    if (xml === null) return {};
    const title = findFirst(parseXmlTree(xml.toString('utf8')), DC_NS, 'title');
    const text = title === undefined ? '' : deepText(title).replace(/\s+/g, ' ').trim();
    return text !== '' ? { title: text } : {};
  } catch (error) {
    // The title is a nicety: a broken properties part must not fail a document whose text read fine.
    if (QuarryError.is(error) && error.code !== 'corrupt_docx') throw error;
    return {};
  } finally {
    zip.close();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
