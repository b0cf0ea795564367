import type { ExtractedPage } from '@quarry/extraction';
import { lowConfidencePages, noTextError } from './extraction-rules';

const ocr = (pageNumber: number, text: string, ocrConfidence: number): ExtractedPage => ({
  pageNumber,
  text,
  method: 'ocr',
  ocrConfidence,
});

describe('lowConfidencePages', () => {
  it('flags OCR pages with text below the minimum, never text-layer or empty pages', () => {
    const pages: ExtractedPage[] = [
      ocr(1, 'clean scan', 91),
      ocr(2, 'smudged scan', 42),
      { pageNumber: 3, text: 'born digital', method: 'text_layer' },
      ocr(4, '   ', 10),
      ocr(5, 'exactly at the bar', 60),
    ];
    expect(lowConfidencePages(pages, 60)).toEqual([2]);
    expect(lowConfidencePages(pages, 95)).toEqual([1, 2, 5]);
  });
});

describe('noTextError', () => {
  it('says what was tried for each kind of document', () => {
    const blank = [{ pageNumber: 1, text: ' \n' }];
    expect(noTextError('scan.pdf', 'pdf', blank, 0)?.message).toContain('neither a text layer nor OCR');
    expect(noTextError('photo.jpg', 'jpeg', blank, 0)?.message).toContain('OCR found none in the image');
    const docx = noTextError('empty.docx', 'docx', [], 0);
    expect(docx?.code).toBe('no_text');
    expect(docx?.details).toEqual({ detectedType: 'docx', pages: 0 });
  });

  it('lets through a document with any text, or whose content is its attachments', () => {
    expect(noTextError('a.txt', 'text', [{ pageNumber: 1, text: 'x' }], 0)).toBeNull();
    expect(noTextError('mail.eml', 'eml', [{ pageNumber: 1, text: '' }], 2)).toBeNull();
  });
});
