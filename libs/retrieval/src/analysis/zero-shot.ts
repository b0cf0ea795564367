import { cosineSimilarity, l2Normalize } from '../embedding/vector';

export interface LabelScore {
  name: string;
  /** Share of the document's fit among the labels (a softmax of similarities; all labels together make 1). */
  score: number;
}

// How sharply similarities separate into shares: cosine differences of a few hundredths between labels are
// typical of sentence encoders, and at 0.05 a lead of 0.05 is e times the share.
const TEMPERATURE = 0.05;

/**
 * Zero-shot classification by embeddings: the label whose description's vector is most similar to the document's
 * (its mean chunk vector) wins. With `multiLabel`, every label with at least half the best share and a fifth of the
 * whole is given too.
 */
export function classifyByEmbedding(
  document: ArrayLike<number>,
  labels: readonly { name: string; vector: ArrayLike<number> }[],
  multiLabel: boolean,
): { labels: string[]; scores: LabelScore[] } {
  const doc = l2Normalize(Float32Array.from(document));
  const sims = labels.map((l) => cosineSimilarity(doc, l2Normalize(Float32Array.from(l.vector))));
  const top = Math.max(...sims);
  const exps = sims.map((s) => Math.exp((s - top) / TEMPERATURE));
  const sum = exps.reduce((a, b) => a + b, 0);
  const scores = labels
    .map((l, i) => ({ name: l.name, score: Math.round(((exps[i] ?? 0) / sum) * 10_000) / 10_000 }))
    .sort((a, b) => b.score - a.score);
  const best = scores[0]?.score ?? 0;
  const given = multiLabel
    ? scores.filter((s) => s.score >= Math.max(0.2, best / 2)).map((s) => s.name)
    : scores.slice(0, 1).map((s) => s.name);
  return { labels: given, scores };
}
