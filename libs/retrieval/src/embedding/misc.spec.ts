import { QuarryError } from '@quarry/contracts';
import { createEmbeddingProvider } from './factory';
import { FakeEmbeddingProvider } from './fake';
import { OpenAiEmbeddingProvider } from './openai';
import { cosineSimilarity, fromPgVector, l2Normalize, toPgVector } from './vector';

describe('toPgVector / fromPgVector', () => {
  it('writes the shortest literal that reads back as the same float32', () => {
    const v = Float32Array.from([0.1, -0.25, 0, 1, 1e-7, 0.3333333432674408]);
    const literal = toPgVector(v);
    expect(literal).toBe('[0.1,-0.25,0,1,1e-7,0.33333334]');
    expect(fromPgVector(literal)).toEqual(v);
    expect(toPgVector(new Float32Array(0))).toBe('[]');
  });

  it('refuses non-finite components, which pgvector rejects', () => {
    expect(() => toPgVector(Float32Array.from([1, Number.NaN]))).toThrow(QuarryError);
    expect(() => toPgVector(Float32Array.from([Infinity]))).toThrow(/component 0/);
  });

  it('round-trips a realistic vector exactly', () => {
    const v = l2Normalize(Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453));
    expect(fromPgVector(toPgVector(v))).toEqual(v);
  });
});

describe('FakeEmbeddingProvider', () => {
  it('is deterministic, normalised, and puts texts sharing words close together', async () => {
    const fake = new FakeEmbeddingProvider({ dim: 64 });
    const [a, b, c, a2, empty] = await fake.embed([
      'invoice total due in march',
      'the invoice total is due',
      'hiking boots for winter',
      'invoice total due in march',
      '',
    ]);
    expect(fake.id).toBe('fake-hash-64');
    expect(Array.from(a2!)).toEqual(Array.from(a!));
    for (const v of [a!, b!, c!, empty!]) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(cosineSimilarity(a!, b!)).toBeGreaterThan(cosineSimilarity(a!, c!));
    expect(fake.calls).toHaveLength(1);
    await fake.close();
    await expect(fake.embed(['x'])).rejects.toBeInstanceOf(QuarryError);
  });
});

describe('createEmbeddingProvider', () => {
  it('builds the OpenAI-compatible provider from the service configuration shape', async () => {
    const provider = await createEmbeddingProvider({
      provider: 'openai',
      batchSize: 8,
      timeoutMs: 1000,
      openai: { baseUrl: 'http://127.0.0.1:1/v1', apiKey: undefined, model: 'nomic-embed-text', dim: 768 },
    });
    expect(provider).toBeInstanceOf(OpenAiEmbeddingProvider);
    expect(provider).toMatchObject({ id: 'openai:nomic-embed-text', dim: 768 });
    await provider.close();
  });

  it('rejects openai without its settings', async () => {
    await expect(createEmbeddingProvider({ provider: 'openai', batchSize: 8 })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });
});
