import type { OfficeContentNode } from 'officeparser';
import type { Block } from '../structure/blocks';
import { inspectZip } from '../zip/inspect-zip';
import { astToBlocks, parseOfficeAst } from './office-ast';
import { asPage, checkPageCount, pageFromBlocks } from './pages';
import type { ParsedMeta, ParseInput, ParserSink } from './types';

export const NOTES_HEADING = 'Notes';

/**
 * A presentation (PPTX or ODP) as one page per slide, in slide order. A slide's label is its title (the title
 * placeholder, which officeparser marks as a heading) or else its first paragraph; its speaker notes follow the
 * slide text under a "Notes" heading, without the slide-number field PowerPoint puts on every notes page.
 */
export async function parseSlides(
  input: ParseInput,
  sink: ParserSink,
  type: 'pptx' | 'odp',
): Promise<ParsedMeta> {
  await inspectZip(input.path, type, input.limits);
  const ast = await parseOfficeAst(input, type);
  const slides = ast.content.filter((node) => node.type === 'slide');
  checkPageCount(slides.length, input.limits, 'slides');
  slides.forEach((slide, i) => {
    const slideNumber = (slide.type === 'slide' ? slide.metadata?.slideNumber : undefined) ?? i + 1;
    const blocks = astToBlocks(slide.children ?? [], { guessTableHeader: true });
    const label = slideTitle(blocks);
    const notes = slideNotes(slide, slideNumber);
    if (notes.length > 0) {
      const levels = blocks.flatMap((b) => (b.kind === 'heading' ? [b.level] : []));
      const level = levels.length > 0 ? Math.min(...levels) + 1 : 1;
      blocks.push({ kind: 'heading', level, text: NOTES_HEADING }, ...notes);
    }
    sink.page(asPage(pageFromBlocks(i + 1, blocks, label !== undefined ? { label } : {})));
  });
  const title = ast.metadata.title?.trim();
  return title !== undefined && title !== '' && !isGeneratorTitle(title) ? { title } : {};
}

function slideTitle(blocks: readonly Block[]): string | undefined {
  const heading = blocks.find((b) => b.kind === 'heading');
  if (heading !== undefined) return heading.text;
  const first = blocks.find((b) => b.kind === 'paragraph');
  if (first === undefined) return undefined;
  // A label is a line, not a paragraph: the first line, cut at a readable length.
  const line = first.text.split('\n')[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

function slideNotes(slide: OfficeContentNode, slideNumber: number): Block[] {
  const blocks = astToBlocks((slide.notes ?? []).flatMap((note) => note.children ?? [note]));
  return blocks.filter((b) => !(b.kind === 'paragraph' && b.text.trim() === String(slideNumber)));
}

/** Tools stamp their own name as the title of every file they write; that names no document. */
function isGeneratorTitle(title: string): boolean {
  return title === 'PptxGenJS Presentation' || title === 'PowerPoint Presentation';
}
