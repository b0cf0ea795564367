import { IMAGE_TYPES, QuarryError, type DetectedType } from '@quarry/contracts';
import type { ExtractedPage } from '@quarry/extraction';

/** OCR pages whose mean word confidence is below the minimum: indexed, but flagged on their document. */
export function lowConfidencePages(pages: readonly ExtractedPage[], minConfidence: number): number[] {
  return pages
    .filter((p) => p.method === 'ocr' && (p.ocrConfidence ?? 0) < minConfidence && p.text.trim() !== '')
    .map((p) => p.pageNumber);
}

/**
 * A document that gave no text at all fails with `no_text`, saying what was tried; one whose only content is what
 * it carries (an e-mail of attachments alone) does not, since its attachments are documents of their own.
 */
export function noTextError(
  filename: string,
  detected: DetectedType,
  pages: readonly ExtractedPage[],
  attachments: number,
): QuarryError | null {
  if (attachments > 0 || pages.some((p) => p.text.trim() !== '')) return null;
  const what =
    detected === 'pdf'
      ? 'neither a text layer nor OCR of its pages found any'
      : IMAGE_TYPES.includes(detected)
        ? 'OCR found none in the image'
        : `the ${detected} document holds none`;
  return new QuarryError('no_text', `no text in "${filename}": ${what}`, {
    details: { detectedType: detected, pages: pages.length },
  });
}
