import { terms, type Sentence } from './sentences';

/**
 * Extractive summary: the sentences most central to the texts given, in their original order. Centrality is the
 * cosine between a sentence's term counts and the whole selection's, weighted by inverse sentence frequency (a
 * term every sentence has says nothing), with a small preference for early sentences, where documents state what
 * they are about. A real algorithm, not a model: it quotes, it never writes.
 */
export function centralSentences<S>(sentences: readonly Sentence<S>[], count: number): Sentence<S>[] {
  if (sentences.length === 0 || count <= 0) return [];
  const bags = sentences.map((s) => counts(terms(s.text)));
  const sentenceFrequency = new Map<string, number>();
  for (const bag of bags)
    for (const term of bag.keys()) sentenceFrequency.set(term, (sentenceFrequency.get(term) ?? 0) + 1);
  const idf = (term: string) => Math.log(1 + sentences.length / (sentenceFrequency.get(term) ?? 1));
  const weighted = bags.map((bag) => new Map([...bag].map(([t, n]) => [t, n * idf(t)])));
  const centroid = new Map<string, number>();
  for (const bag of weighted) for (const [t, w] of bag) centroid.set(t, (centroid.get(t) ?? 0) + w);
  const scored = sentences.map((s, i) => {
    const bag = weighted[i] ?? new Map<string, number>();
    const early = 1 + 0.2 / (1 + s.position);
    return { s, score: cosine(bag, centroid) * early };
  });
  return scored
    .sort((a, b) => b.score - a.score || a.s.position - b.s.position)
    .slice(0, count)
    .map((x) => x.s)
    .sort((a, b) => a.position - b.position);
}

/**
 * The sentences that best answer a question: term overlap with the question, weighted by how rare each term is
 * among the candidate sentences, plus the retrieval rank of the passage the sentence came from (`passageScore`,
 * higher is better). Sentences sharing no term with the question are not answers.
 */
export function answeringSentences<S>(
  question: string,
  sentences: readonly Sentence<S>[],
  passageScore: (source: S) => number,
  count: number,
): { sentence: Sentence<S>; score: number }[] {
  const wanted = new Set(terms(question));
  if (wanted.size === 0) return [];
  const bags = sentences.map((s) => new Set(terms(s.text)));
  const frequency = new Map<string, number>();
  for (const bag of bags)
    for (const t of bag) if (wanted.has(t)) frequency.set(t, (frequency.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log(1 + sentences.length / (frequency.get(t) ?? 1));
  const total = [...wanted].reduce((a, t) => a + idf(t), 0);
  return sentences
    .map((sentence, i) => {
      const bag = bags[i] ?? new Set<string>();
      const matched = [...wanted].filter((t) => bag.has(t)).reduce((a, t) => a + idf(t), 0);
      return { sentence, coverage: matched / total, score: 0 };
    })
    .filter((x) => x.coverage > 0)
    .map((x) => ({ sentence: x.sentence, score: 0.7 * x.coverage + 0.3 * passageScore(x.sentence.source) }))
    .sort((a, b) => b.score - a.score || a.sentence.position - b.sentence.position)
    .slice(0, count);
}

function counts(items: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

function cosine(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let dot = 0;
  for (const [t, w] of a) dot += w * (b.get(t) ?? 0);
  const norm = (m: ReadonlyMap<string, number>) => Math.sqrt([...m.values()].reduce((x, w) => x + w * w, 0));
  const d = norm(a) * norm(b);
  return d === 0 ? 0 : dot / d;
}
