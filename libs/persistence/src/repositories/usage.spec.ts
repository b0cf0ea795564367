import { itemLlmTokens } from './usage';

describe('itemLlmTokens', () => {
  it("adds a kept item's prompt and completion tokens", () => {
    expect(
      itemLlmTokens({ output: { labels: ['a'] }, tokens: { promptTokens: 120, completionTokens: 8 } }),
    ).toBe(128);
  });

  it('counts nothing for an item without tokens (an offline method, or kept before a model was set)', () => {
    expect(itemLlmTokens({ score: 0.4 })).toBe(0);
    expect(itemLlmTokens(null)).toBe(0);
    expect(itemLlmTokens('text')).toBe(0);
    expect(itemLlmTokens({ tokens: null })).toBe(0);
  });

  it('ignores what is not a count', () => {
    expect(itemLlmTokens({ tokens: { promptTokens: -5, completionTokens: 2.5 } })).toBe(0);
    expect(itemLlmTokens({ tokens: { promptTokens: '7', completionTokens: 3 } })).toBe(3);
  });
});
