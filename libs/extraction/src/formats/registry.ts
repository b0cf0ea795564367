import type { DetectedType } from '@quarry/contracts';
import { rasterizeImage } from '../images/rasterize-image';
import { parseCsv } from './csv';
import { parseDocx } from './docx';
import { parseEml } from './eml';
import { parseEpub } from './epub';
import { parseHtml } from './html';
import { parseMarkdown } from './markdown';
import { parseOdp } from './odp';
import { parseOds } from './ods';
import { parseOdt } from './odt';
import { parseOle2 } from './ole2';
import { parsePptx } from './pptx';
import { parseRtf } from './rtf';
import type { FormatParser } from './types';
import { parseXlsx } from './xlsx';

/**
 * Every parser the sandbox host runs, by detected type. PDFs and plain text are read in the worker (PDFs by
 * poppler's processes, which are sandboxes of their own); images are decoded here and OCR'd by the worker.
 */
export const PARSERS: Partial<Record<DetectedType, FormatParser>> = {
  html: parseHtml,
  markdown: parseMarkdown,
  csv: parseCsv,
  docx: parseDocx,
  pptx: parsePptx,
  xlsx: parseXlsx,
  odt: parseOdt,
  ods: parseOds,
  odp: parseOdp,
  rtf: parseRtf,
  eml: parseEml,
  epub: parseEpub,
  ole2: parseOle2,
  png: rasterizeImage,
  jpeg: rasterizeImage,
  tiff: rasterizeImage,
  webp: rasterizeImage,
  bmp: rasterizeImage,
  gif: rasterizeImage,
};
