import { QuarryError, type DetectedType } from '@quarry/contracts';
import { extractText } from './extract-text';
import { extractPdfPages } from './pdf/extract-pdf';
import type { ExtractedDocument, ExtractOptions } from './types';

/**
 * The one entry point from bytes and their detected type to page texts. A document with no text anywhere comes back
 * as pages of empty text rather than an error: whether that means OCR, `no_text` or an empty index is the caller's call.
 */
export async function extractDocument(
  bytes: Uint8Array,
  detected: DetectedType,
  options: ExtractOptions,
): Promise<ExtractedDocument> {
  switch (detected) {
    case 'pdf':
      return extractPdfPages(bytes, options);
    case 'text':
    case 'markdown': {
      const { pageCount, pages } = extractText(bytes);
      if (options.onPage !== undefined) for (const page of pages) await options.onPage(page);
      return { pageCount, pages };
    }
    case 'html':
    case 'docx':
    case 'png':
    case 'jpeg':
    case 'tiff':
    case 'unknown':
      throw new QuarryError(
        'unsupported_type',
        `Extracting text from ${describe(detected)} is not supported`,
        {
          details: { detectedType: detected },
        },
      );
  }
}

function describe(detected: DetectedType): string {
  return detected === 'unknown' ? 'a document of unrecognised type' : `${detected} documents`;
}
