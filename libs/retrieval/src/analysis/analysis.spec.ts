import { answeringSentences, centralSentences } from './extractive';
import { sentencesOf, terms } from './sentences';
import { classifyByEmbedding } from './zero-shot';

describe('sentencesOf', () => {
  it('splits pieces into sentences, keeps their source, skips headings, fragments and repeats', () => {
    const s = sentencesOf([
      { text: '# Harvest\n\nThe harvest began in May. It ended late.\nOk.', source: 'a' },
      { text: 'It ended late. Storms delayed the last fields by a week.', source: 'b' },
    ]);
    expect(s.map((x) => [x.text, x.source, x.position])).toEqual([
      ['The harvest began in May.', 'a', 0],
      ['It ended late.', 'a', 1],
      ['Storms delayed the last fields by a week.', 'b', 2],
    ]);
  });

  it('reduces words to lower-case stems without function words', () => {
    expect(terms('The birds were migrating between the Poles')).toEqual(['bird', 'migrat', 'pole']);
  });
});

describe('centralSentences', () => {
  const text =
    'Granite quarries supply stone for harbour walls. ' +
    'The quarry near the harbour cuts granite blocks every day. ' +
    'My cat likes sleeping in the sun. ' +
    'Granite blocks from the quarry are shipped to the harbour by barge.';
  const sentences = sentencesOf([{ text, source: 'doc' }]);

  it('picks the sentences most like the whole, in their original order', () => {
    const picked = centralSentences(sentences, 2).map((s) => s.text);
    expect(picked).toHaveLength(2);
    expect(picked).not.toContain('My cat likes sleeping in the sun.');
    const positions = centralSentences(sentences, 3).map((s) => s.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('returns nothing for nothing', () => {
    expect(centralSentences([], 3)).toEqual([]);
    expect(centralSentences(sentences, 0)).toEqual([]);
  });
});

describe('answeringSentences', () => {
  const sentences = sentencesOf([
    { text: 'Arctic terns migrate between the poles every year. They live for thirty years.', source: 1 },
    { text: 'The invoice INV-20931 was paid on 3 March by the harbour authority.', source: 0.5 },
  ]);

  it('ranks the sentences that share the question’s rarest terms first', () => {
    const best = answeringSentences('Which birds migrate between the poles?', sentences, (s) => s, 2);
    expect(best[0]?.sentence.text).toBe('Arctic terns migrate between the poles every year.');
    expect(best.every((b) => b.score > 0)).toBe(true);
    const paid = answeringSentences('When was invoice INV-20931 paid?', sentences, (s) => s, 1);
    expect(paid[0]?.sentence.text).toContain('INV-20931');
  });

  it('answers nothing when no sentence shares a term with the question', () => {
    expect(answeringSentences('volcanic eruptions in Iceland', sentences, () => 1, 3)).toEqual([]);
    expect(answeringSentences('the of and', sentences, () => 1, 3)).toEqual([]);
  });
});

describe('classifyByEmbedding', () => {
  const labels = [
    { name: 'finance', vector: [1, 0, 0] },
    { name: 'nature', vector: [0, 1, 0] },
    { name: 'code', vector: [0, 0, 1] },
  ];

  it('gives the label most similar to the document, with shares that add up to one', () => {
    const r = classifyByEmbedding([0.9, 0.2, 0.1], labels, false);
    expect(r.labels).toEqual(['finance']);
    expect(r.scores.map((s) => s.name)).toEqual(['finance', 'nature', 'code']);
    expect(r.scores.reduce((a, s) => a + s.score, 0)).toBeCloseTo(1, 3);
  });

  it('gives every close label when several may apply', () => {
    const r = classifyByEmbedding([0.7, 0.7, 0], labels, true);
    expect(r.labels.sort()).toEqual(['finance', 'nature']);
    expect(classifyByEmbedding([0.7, 0.7, 0], labels, false).labels).toHaveLength(1);
  });
});
