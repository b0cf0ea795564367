/** Half-open character range `[start, end)` within one page's text. */
export interface Span {
  start: number;
  end: number;
}

export interface Block extends Span {
  heading: boolean;
}

const MARKDOWN_HEADING = /^ {0,3}#{1,6}(?:\s|$)/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)\s*$/;
const CODE_FENCE = /^ {0,3}(?:```|~~~)/;
// Section numbering as PDFs and Word documents render it: "2.1 Methods", "IV. Results", "Chapter 3 Scope".
// No `i` flag: with it, \p{Lu} would also match lower-case letters.
const NUMBERED_HEADING =
  /^(?:\d{1,3}(?:\.\d{1,3})*\.?|[IVXLC]{1,6}\.|(?:Chapter|CHAPTER|Section|SECTION|Part|PART|Appendix|APPENDIX|Article|ARTICLE)\s+[\dIVXLCA-Z]{1,6}[.:]?)\s+\p{Lu}/u;
const MAX_HEADING_CHARS = 80;
const MAX_HEADING_WORDS = 12;
// Terminal punctuation marks a sentence, not a title. `?` is left out: "What is Quarry?" is a common heading.
const SENTENCE_LIKE_END = /[.,;:!]$/;
// The end of a sentence: terminal punctuation plus closing quotes or brackets, followed by whitespace
// (Latin scripts) or not (CJK full stops carry no space after them).
const SENTENCE_END = /[.!?…]+["'”’)\]]*(?=\s)|[。！？]+["'”’」』）)\]]*/gu;

const WHITESPACE = /\s/;
export const isSpaceAt = (text: string, i: number): boolean => WHITESPACE.test(text.charAt(i));

export function trimSpan(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && isSpaceAt(text, start)) start++;
  while (end > start && isSpaceAt(text, end - 1)) end--;
  return { start, end };
}

function lines(text: string): Span[] {
  const out: Span[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) {
      out.push({ start, end: text.length });
      return out;
    }
    out.push({ start, end: nl });
    start = nl + 1;
  }
}

function looksLikeHeading(line: string, alone: boolean): boolean {
  const t = line.trim();
  if (t.length < 2 || t.length > MAX_HEADING_CHARS) return false;
  if (!/\p{L}/u.test(t) || SENTENCE_LIKE_END.test(t)) return false;
  if (t.split(/\s+/).length > MAX_HEADING_WORDS) return false;
  const allCaps = !/\p{Ll}/u.test(t) && (t.match(/\p{Lu}/gu)?.length ?? 0) >= 2;
  if (allCaps || NUMBERED_HEADING.test(t)) return true;
  // A short capitalised line standing alone between blank lines reads as a title. Inside a block it is
  // more likely a line of wrapped prose, so only the stronger signals above count there.
  return alone && /^[\p{Lu}\p{N}]/u.test(t);
}

/**
 * Splits a page into blocks: paragraphs separated by blank lines, and heading lines, which always form
 * a block of their own so the chunker can start a new chunk at each one.
 */
export function segmentBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let current: Span[] = [];
  let currentHasCode = false;
  const push = (span: Span, heading: boolean): void => {
    const trimmed = trimSpan(text, span);
    if (trimmed.end > trimmed.start) blocks.push({ ...trimmed, heading });
  };
  const close = (): void => {
    const first = current[0];
    const last = current[current.length - 1];
    const code = currentHasCode;
    current = [];
    currentHasCode = false;
    if (first === undefined || last === undefined) return;
    const firstLine = text.slice(first.start, first.end);
    if (code) {
      push({ start: first.start, end: last.end }, false);
    } else if (first === last) {
      push(first, looksLikeHeading(firstLine, true));
    } else if (looksLikeHeading(firstLine, false)) {
      push(first, true);
      push({ start: first.end, end: last.end }, false);
    } else {
      push({ start: first.start, end: last.end }, false);
    }
  };

  // Inside a fenced code block `# ...` is a shell or Python comment, not a heading.
  let inFence = false;
  for (const line of lines(text)) {
    const content = text.slice(line.start, line.end);
    if (CODE_FENCE.test(content)) inFence = !inFence;
    if (content.trim() === '') {
      close();
    } else if (inFence || CODE_FENCE.test(content)) {
      current.push(line);
      currentHasCode = true;
    } else if (MARKDOWN_HEADING.test(content)) {
      close();
      push(line, true);
    } else if (current.length === 1 && SETEXT_UNDERLINE.test(content)) {
      const [title] = current;
      current = [];
      if (title !== undefined) push({ start: title.start, end: line.end }, true);
    } else {
      current.push(line);
    }
  }
  close();
  return blocks;
}

/** Sentences of a block, trimmed; the block itself when it holds no sentence boundary. */
export function splitSentences(text: string, block: Span): Span[] {
  const body = text.slice(block.start, block.end);
  const out: Span[] = [];
  let cursor = 0;
  for (const match of body.matchAll(SENTENCE_END)) {
    const end = match.index + match[0].length;
    const sentence = trimSpan(text, { start: block.start + cursor, end: block.start + end });
    if (sentence.end > sentence.start) out.push(sentence);
    cursor = end;
  }
  const rest = trimSpan(text, { start: block.start + cursor, end: block.end });
  if (rest.end > rest.start) out.push(rest);
  return out;
}
