import { parseSlides } from './slides';
import type { FormatParser } from './types';

/** OpenDocument presentation (ODP): one page per slide, labelled with the slide title, speaker notes after it. */
export const parseOdp: FormatParser = (input, sink) => parseSlides(input, sink, 'odp');
