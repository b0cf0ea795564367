import { QuarryError } from '@quarry/contracts';
import { type Block, renderBlocks, type RenderOptions } from '../structure/blocks';
import type { ExtractedPage } from '../types';
import type { ParseLimits } from './types';

/** A page from blocks: the rendered text, its heading sections when there are any, and the label when given. */
export function pageFromBlocks(
  pageNumber: number,
  blocks: readonly Block[],
  options: RenderOptions & { label?: string } = {},
): ExtractedPage & { endPath: string[]; endLevels: number[] } {
  const rendered = renderBlocks(blocks, options);
  const label = options.label?.replace(/\s+/g, ' ').trim();
  return {
    pageNumber,
    text: rendered.text,
    ...(label !== undefined && label !== '' ? { label } : {}),
    ...(rendered.sections.length > 0 ? { sections: rendered.sections } : {}),
    endPath: rendered.endPath,
    endLevels: rendered.endLevels,
  };
}

/** Strips the carry-over fields `pageFromBlocks` adds, leaving the page the sink takes. */
export function asPage(page: ExtractedPage & { endPath?: string[]; endLevels?: number[] }): ExtractedPage {
  const { endPath: _endPath, endLevels: _endLevels, ...rest } = page;
  return rest;
}

/** Fails before any page is delivered when the document has more natural units than allowed. */
export function checkPageCount(count: number, limits: ParseLimits, unit: string): void {
  if (count > limits.maxPages) {
    throw new QuarryError(
      'too_many_pages',
      `The document has ${count} ${unit}, more than the ${limits.maxPages} allowed`,
      {
        details: { pages: count, maxPages: limits.maxPages, unit },
      },
    );
  }
}
