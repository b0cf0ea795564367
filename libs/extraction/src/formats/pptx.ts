import { parseSlides } from './slides';
import type { FormatParser } from './types';

/** PowerPoint (PPTX): one page per slide, labelled with the slide title, speaker notes after the slide text. */
export const parsePptx: FormatParser = (input, sink) => parseSlides(input, sink, 'pptx');
