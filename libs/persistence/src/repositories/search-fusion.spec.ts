import { byScoreThenId, fuseRankings } from './search-fusion';

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe('fuseRankings', () => {
  it('weighs BM25 by the best keyword score and cosine by the candidates’ range, 0.7 and 0.3', () => {
    const fused = fuseRankings(
      [
        { id: id(1), score: 8 },
        { id: id(2), score: 6 },
      ],
      [
        { id: id(2), score: 0.9 },
        { id: id(3), score: 0.5 },
      ],
    );
    expect(fused).toEqual([
      // 0.7 × 6/8 + 0.3 × 1: found by both, above the best keyword match that the vector ranking missed
      { id: id(2), score: 0.7 * 0.75 + 0.3 * 1, vectorScore: 0.9, keywordScore: 6 },
      { id: id(1), score: 0.7 * 1 + 0.3 * 0, vectorScore: null, keywordScore: 8 },
      { id: id(3), score: 0, vectorScore: 0.5, keywordScore: null },
    ]);
  });

  it('lets a ranking whose candidates all score alike add nothing instead of dividing by zero', () => {
    const fused = fuseRankings([{ id: id(1), score: 0 }], [{ id: id(2), score: 0.4 }]);
    expect(fused.map((c) => [c.id, c.score])).toEqual([
      [id(1), 0],
      [id(2), 0],
    ]);
    expect(fused.every((c) => Number.isFinite(c.score))).toBe(true);
  });

  it('ranks one list alone when the other found nothing', () => {
    expect(fuseRankings([], [])).toEqual([]);
    const onlyVector = fuseRankings(
      [],
      [
        { id: id(5), score: 0.2 },
        { id: id(4), score: 0.6 },
      ],
    );
    expect(onlyVector.map((c) => c.id)).toEqual([id(4), id(5)]);
    expect(onlyVector[0]?.score).toBeCloseTo(0.3, 12);
  });

  it('orders equal scores by id as PostgreSQL orders uuids', () => {
    const ids = ['f0000000-0000-4000-8000-000000000000', '0a000000-0000-4000-8000-000000000000', id(9)];
    const fused = fuseRankings(
      ids.map((i) => ({ id: i, score: 3 })),
      [],
    );
    expect(fused.map((c) => c.id)).toEqual([...ids].sort());
    expect(byScoreThenId({ id: id(1), score: 1 }, { id: id(2), score: 2 })).toBeGreaterThan(0);
  });
});
