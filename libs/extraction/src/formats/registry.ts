import type { DetectedType } from '@quarry/contracts';
import type { FormatParser } from './types';

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, see below */
/**
 * Every parser the sandbox host runs, by detected type, each loaded on first use: the libraries behind them
 * (mammoth, exceljs, officeparser, sharp, mailparser, linkedom …) take about 100 MB together, and a host that only
 * ever reads images or e-mails should not carry the rest. `require` rather than `import()`: the host also runs
 * from TypeScript sources under a require hook (tests), which dynamic import would bypass. PDFs are read by poppler's
 * processes (sandboxes of their own) from the worker; images are decoded here and OCR'd by the worker.
 */
export const PARSERS: Partial<Record<DetectedType, () => FormatParser>> = {
  text: () => (require('./text') as typeof import('./text')).parseText,
  html: () => (require('./html') as typeof import('./html')).parseHtml,
  markdown: () => (require('./markdown') as typeof import('./markdown')).parseMarkdown,
  csv: () => (require('./csv') as typeof import('./csv')).parseCsv,
  docx: () => (require('./docx') as typeof import('./docx')).parseDocx,
  pptx: () => (require('./pptx') as typeof import('./pptx')).parsePptx,
  xlsx: () => (require('./xlsx') as typeof import('./xlsx')).parseXlsx,
  odt: () => (require('./odt') as typeof import('./odt')).parseOdt,
  ods: () => (require('./ods') as typeof import('./ods')).parseOds,
  odp: () => (require('./odp') as typeof import('./odp')).parseOdp,
  rtf: () => (require('./rtf') as typeof import('./rtf')).parseRtf,
  eml: () => (require('./eml') as typeof import('./eml')).parseEml,
  epub: () => (require('./epub') as typeof import('./epub')).parseEpub,
  ole2: () => (require('./ole2') as typeof import('./ole2')).parseOle2,
  png: rasterizer,
  jpeg: rasterizer,
  tiff: rasterizer,
  webp: rasterizer,
  bmp: rasterizer,
  gif: rasterizer,
};

function rasterizer(): FormatParser {
  return (require('../images/rasterize-image') as typeof import('../images/rasterize-image')).rasterizeImage;
}
/* eslint-enable @typescript-eslint/no-require-imports */
