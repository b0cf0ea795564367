import { globToLike, usesSearchOperators } from './chunks.repository';

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
