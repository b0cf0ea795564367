import { globToLike, midpointInTime, spansFromMarked, usesSearchOperators } from './chunks.repository';

describe('search syntax', () => {
  it('takes quotes, a leading minus and an upper-case OR as operators', () => {
    expect(usesSearchOperators('"exact phrase" here')).toBe(true);
    expect(usesSearchOperators('invoice -draft')).toBe(true);
    expect(usesSearchOperators('invoice OR receipt')).toBe(true);
  });

  it('reads a lower-case "or" and a hyphen inside a word as words of a sentence', () => {
    expect(
      usesSearchOperators('Combination therapies with varenicline or bupropion lead to abstinence'),
    ).toBe(false);
    expect(usesSearchOperators('Mice that lack Interferon-γ or its receptor')).toBe(false);
    expect(usesSearchOperators('which birds migrate between the poles?')).toBe(false);
  });

  it('turns a filename glob into a LIKE pattern with LIKE’s own wildcards escaped', () => {
    expect(globToLike('report_*.pdf')).toBe('report\\_%.pdf');
    expect(globToLike('a?c%')).toBe('a_c\\%');
  });
});

describe('spansFromMarked', () => {
  const S = '\u0001';
  const E = '\u0002';

  it('gives the text without markers and the UTF-16 spans they enclosed', () => {
    const { text, spans } = spansFromMarked(`Pay ${S}INV-20931${E} by ${S}Friday${E}.`, S, E);
    expect(text).toBe('Pay INV-20931 by Friday.');
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual(['INV-20931', 'Friday']);
  });

  it('counts characters outside the basic plane as two, as JavaScript strings do', () => {
    const { text, spans } = spansFromMarked(`😀 ${S}naïve${E}, ${S}𝔘nicode${E}`, S, E);
    expect(spans).toEqual([
      { start: 3, end: 8 },
      { start: 10, end: 18 },
    ]);
    expect(text.slice(10, 18)).toBe('𝔘nicode');
  });

  it('merges adjacent matches, and ignores empty or unclosed ones', () => {
    expect(spansFromMarked(`${S}exact${E} ${S}identifier${E} here`, S, E).spans).toEqual([
      { start: 0, end: 16 },
    ]);
    expect(spansFromMarked(`a ${S}${E}b ${S}open`, S, E)).toEqual({ text: 'a b open', spans: [] });
    expect(spansFromMarked('', S, E)).toEqual({ text: '', spans: [] });
    expect(spansFromMarked(`${E}stray${S}`, S, E)).toEqual({ text: 'stray', spans: [] });
  });
});

describe('midpointInTime', () => {
  it('is the version 7 id halfway between two ids’ milliseconds, so earlier milliseconds sort before it', () => {
    const lo = '01a24748-cc44-79fc-bd70-9ec34326da43';
    const hi = '01a2474b-55fa-711e-9636-adbd0fdb1737';
    const mid = midpointInTime(lo, hi);
    expect(mid).toBe('01a2474a-111f-0000-0000-000000000000');
    expect(lo < mid && mid < hi).toBe(true);
    expect(midpointInTime(lo, lo) <= lo).toBe(true);
  });
});
