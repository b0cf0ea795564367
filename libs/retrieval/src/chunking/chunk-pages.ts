import { QuarryError } from '@quarry/contracts';
import { isSpaceAt, segmentBlocks, splitSentences, trimSpan, type Span } from './segment';
import { countTokens } from './tokens';

export interface PageText {
  pageNumber: number;
  text: string;
}

export interface Chunk {
  /** Position of the chunk in the document, counting from 0 across all pages. */
  ordinal: number;
  pageNumber: number;
  /** Exactly `page.text.slice(charStart, charEnd)`. */
  text: string;
  tokenCount: number;
  charStart: number;
  charEnd: number;
}

export interface ChunkingOptions {
  maxTokens: number;
  overlapTokens: number;
}

// Below this a single character (some CJK or emoji take 3 tokens) might not fit, and the last-resort
// split could not make progress.
const MIN_MAX_TOKENS = 8;
// Bounds the window the last-resort split searches, so one 100 kB run without spaces or sentence ends
// costs a few encodes of ~maxTokens tokens each rather than re-encoding the whole run per piece.
const MAX_CHARS_PER_TOKEN = 32;

function validate(options: ChunkingOptions): void {
  const { maxTokens, overlapTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < MIN_MAX_TOKENS) {
    throw new QuarryError('validation_failed', `maxTokens must be an integer >= ${MIN_MAX_TOKENS}`);
  }
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new QuarryError('validation_failed', 'overlapTokens must be an integer in [0, maxTokens)');
  }
}

/**
 * Splits extracted pages into chunks of at most `maxTokens` tokens. Each chunk is a contiguous slice of
 * one page, so its page number and character offsets are exact citations. Headings start a new chunk;
 * paragraphs are kept whole when they fit, else split by sentences, and by tokens as a last resort.
 * Consecutive chunks of one section share up to `overlapTokens` tokens of whole trailing sentences.
 */
export function chunkPages(pages: readonly PageText[], options: ChunkingOptions): Chunk[] {
  validate(options);
  const chunks: Chunk[] = [];
  for (const page of pages) {
    for (const span of chunkPage(page.text, options)) {
      chunks.push({
        ordinal: chunks.length,
        pageNumber: page.pageNumber,
        text: page.text.slice(span.start, span.end),
        tokenCount: span.tokenCount,
        charStart: span.start,
        charEnd: span.end,
      });
    }
  }
  return chunks;
}

interface ChunkSpan extends Span {
  tokenCount: number;
}

interface Draft extends Span {
  /** Sentence-level units in order; the overlap is taken from their tail. */
  units: Span[];
  /** Holds only headings so far: the next paragraph belongs with them rather than in a new chunk. */
  headingOnly: boolean;
}

function chunkPage(text: string, { maxTokens, overlapTokens }: ChunkingOptions): ChunkSpan[] {
  const out: ChunkSpan[] = [];
  const cache = new Map<string, number>();
  const tokens = (start: number, end: number): number => {
    const key = `${start}:${end}`;
    let n = cache.get(key);
    if (n === undefined) {
      n = countTokens(text.slice(start, end));
      cache.set(key, n);
    }
    return n;
  };
  // A span longer than the last-resort window cannot fit, and must not be encoded to find that out: BPE over
  // one long word is quadratic (a 200 kB line without spaces took 56 s, a megabyte would block for minutes).
  const fits = (start: number, end: number): boolean =>
    end - start <= maxTokens * MAX_CHARS_PER_TOKEN && tokens(start, end) <= maxTokens;

  let draft: Draft | undefined;

  const emit = (d: Draft): void => {
    out.push({ start: d.start, end: d.end, tokenCount: tokens(d.start, d.end) });
  };

  // The longest run of whole trailing units within `overlapTokens`, never the whole chunk: a chunk that
  // repeated its predecessor entirely would add nothing but duplicate search hits.
  const overlapOf = (d: Draft): Span[] => {
    let first = d.units.length;
    for (let i = d.units.length - 1; i >= 1; i--) {
      const unit = d.units[i];
      if (unit === undefined || tokens(unit.start, d.end) > overlapTokens) break;
      first = i;
    }
    return d.units.slice(first);
  };

  /** Emits the draft and opens the next one with `units` (which fit alone), after as much overlap as fits. */
  const flushInto = (units: Span[], end: number): void => {
    let carried: Span[] = [];
    if (draft !== undefined) {
      emit(draft);
      carried = overlapOf(draft);
    }
    while (carried[0] !== undefined && !fits(carried[0].start, end)) carried = carried.slice(1);
    const start = carried[0]?.start ?? units[0]?.start ?? end;
    draft = { start, end, units: [...carried, ...units], headingOnly: false };
  };

  const addUnit = (unit: Span, heading: boolean): void => {
    if (draft === undefined) {
      draft = { start: unit.start, end: unit.end, units: [unit], headingOnly: heading };
    } else if (fits(draft.start, unit.end)) {
      draft.end = unit.end;
      draft.units.push(unit);
      draft.headingOnly &&= heading;
    } else {
      flushInto([unit], unit.end);
    }
  };

  for (const block of segmentBlocks(text)) {
    const units = (block.heading ? [block] : splitSentences(text, block)).flatMap((s) =>
      fits(s.start, s.end) ? [s] : splitByTokens(text, s, maxTokens, tokens),
    );
    if (block.heading) {
      // A heading opens a section: the previous chunk ends here and nothing of it is carried over,
      // so a chunk never mixes the tail of one section with the next.
      if (draft !== undefined && !draft.headingOnly) {
        emit(draft);
        draft = undefined;
      }
      for (const unit of units) addUnit(unit, true);
    } else if (draft === undefined) {
      if (fits(block.start, block.end))
        draft = { start: block.start, end: block.end, units, headingOnly: false };
      else for (const unit of units) addUnit(unit, false);
    } else if (fits(draft.start, block.end)) {
      draft.end = block.end;
      draft.units.push(...units);
      draft.headingOnly = false;
    } else if (!draft.headingOnly && fits(block.start, block.end)) {
      flushInto(units, block.end);
    } else {
      for (const unit of units) addUnit(unit, false);
    }
  }
  if (draft !== undefined) emit(draft);
  return out;
}

/**
 * Last resort for a run with no usable sentence boundary (tables, code, URLs, unspaced scripts): the
 * longest prefix within `maxTokens`, cut at whitespace when one is in its second half.
 */
function splitByTokens(
  text: string,
  span: Span,
  maxTokens: number,
  tokens: (start: number, end: number) => number,
): Span[] {
  const out: Span[] = [];
  let pos = span.start;
  while (pos < span.end) {
    const piece = longestPrefix(text, pos, span.end, maxTokens, tokens);
    out.push(piece);
    pos = piece.end;
    while (pos < span.end && isSpaceAt(text, pos)) pos++;
  }
  return out;
}

function longestPrefix(
  text: string,
  pos: number,
  limit: number,
  maxTokens: number,
  tokens: (start: number, end: number) => number,
): Span {
  const fitsTo = (end: number): boolean => {
    const t = trimSpan(text, { start: pos, end });
    return t.end > t.start && tokens(t.start, t.end) <= maxTokens;
  };
  let hi = Math.min(limit, pos + maxTokens * MAX_CHARS_PER_TOKEN);
  let end: number;
  if (fitsTo(hi)) {
    end = hi;
  } else {
    // Token counts grow with the prefix length (BPE merges make this hold in practice, and the search
    // only ever settles on an end it has checked), so a binary search finds the cut.
    let lo = pos + 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (fitsTo(mid)) lo = mid;
      else hi = mid;
    }
    end = lo;
  }
  if (end < limit) {
    // Do not cut a surrogate pair in half.
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end = end - 1 > pos ? end - 1 : end + 1;
    const half = pos + Math.floor((end - pos) / 2);
    for (let i = end; i > half; i--) {
      if (isSpaceAt(text, i) && fitsTo(i)) {
        end = i;
        break;
      }
    }
  }
  return trimSpan(text, { start: pos, end });
}
