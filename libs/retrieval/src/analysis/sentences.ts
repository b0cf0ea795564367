import { segmentBlocks, splitSentences } from '../chunking/segment';

/** A sentence of a chunk: its text exactly as in the chunk, and where it sits among the document's sentences. */
export interface Sentence<Source> {
  text: string;
  source: Source;
  /** 0 for the first sentence of what was split, counting on across every piece given. */
  position: number;
}

/** Every sentence of the given pieces (chunks), in order; headings and fragments under three words are left out. */
export function sentencesOf<Source>(pieces: readonly { text: string; source: Source }[]): Sentence<Source>[] {
  const out: Sentence<Source>[] = [];
  const seen = new Set<string>();
  for (const piece of pieces) {
    for (const block of segmentBlocks(piece.text)) {
      if (block.heading) continue;
      for (const span of splitSentences(piece.text, block)) {
        const text = piece.text.slice(span.start, span.end).replace(/\s+/g, ' ').trim();
        // Overlapping chunks repeat their edges' sentences: each counts once.
        if (words(text).length < 3 || seen.has(text)) continue;
        seen.add(text);
        out.push({ text, source: piece.source, position: out.length });
      }
    }
  }
  return out;
}

// Function words of English and of the other languages indexed with a stemmer would need their own lists; these
// cover the English questions and documents the offline methods are mostly asked about, and cost nothing elsewhere.
const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our she he so than that the their them then there these they this those to was we ' +
    'were what when where which who whom why will with would you your about after all also any because before ' +
    'between both each few more most other over same some such only own very s t just should now'
  ).split(' '),
);

/** Lower-cased words of a text without function words, each cut to a crude stem (plural and -ing/-ed endings). */
export function terms(text: string): string[] {
  return words(text)
    .map((w) => w.toLowerCase())
    .filter((w) => !STOP_WORDS.has(w))
    .map(stem);
}

function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}][\p{L}\p{N}'_-]*/gu) ?? [];
}

function stem(word: string): string {
  if (word.length <= 4) return word;
  for (const suffix of ['ing', 'ed', 'es', 's']) {
    if (word.endsWith(suffix) && word.length - suffix.length >= 4) return word.slice(0, -suffix.length);
  }
  return word;
}
