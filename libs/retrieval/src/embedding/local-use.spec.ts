import { QuarryError } from '@quarry/contracts';
import { LocalUseEmbeddingProvider } from './local-use';
import { cosineSimilarity } from './vector';

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('LocalUseEmbeddingProvider (USE-lite, offline, in a worker thread)', () => {
  let provider: LocalUseEmbeddingProvider;

  beforeAll(async () => {
    provider = await LocalUseEmbeddingProvider.create({ batchSize: 2 });
  }, 60_000);

  afterAll(async () => {
    await provider.close();
  });

  it('loads the model from the package and embeds into normalised 512-d vectors', async () => {
    expect(provider.id).toBe('use-lite-512');
    expect(provider.dim).toBe(512);
    expect(provider.loadMs).toBeGreaterThan(0);
    const [cat, kitten, revenue] = await provider.embed([
      'The cat sat on the mat',
      'A kitten rests on a rug',
      'Quarterly revenue grew by 4 percent',
    ]);
    for (const v of [cat!, kitten!, revenue!]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(512);
      expect(norm(v)).toBeCloseTo(1, 4);
    }
    expect(cosineSimilarity(cat!, kitten!)).toBeGreaterThan(cosineSimilarity(cat!, revenue!));
  });

  it('keeps input order across batches and gives the same vector for the same text', async () => {
    const texts = ['alpha particles', 'The cat sat on the mat', 'bond yields', '', 'The cat sat on the mat'];
    const vectors = await provider.embed(texts);
    expect(vectors).toHaveLength(5);
    const [single] = await provider.embed(['The cat sat on the mat']);
    expect(cosineSimilarity(vectors[1]!, single!)).toBeCloseTo(1, 5);
    expect(cosineSimilarity(vectors[4]!, single!)).toBeCloseTo(1, 5);
    expect(cosineSimilarity(vectors[0]!, single!)).toBeLessThan(0.9);
    expect(await provider.embed([])).toEqual([]);
  });

  it('replaces a worker that died, failing only the calls it was serving', async () => {
    const dying = provider['threads'][0]?.['worker'];
    expect(dying).toBeDefined();
    const inFlight = provider.embed(['in flight when the worker dies']);
    await dying!.terminate();
    await expect(inFlight).rejects.toMatchObject({ code: 'embedding_failed', retryable: true });
    const [v] = await provider.embed(['after the restart']);
    expect(v).toHaveLength(512);
  }, 60_000);

  it('embeds calls made together in shared batches over its threads, each caller getting its own vectors', async () => {
    const pool = await LocalUseEmbeddingProvider.create({ batchSize: 3, threads: 2 });
    try {
      const texts = ['The cat sat on the mat', 'bond yields', 'alpha particles', 'A kitten rests on a rug'];
      const [separate, together] = await Promise.all([
        Promise.all(texts.map((t) => provider.embed([t]))),
        Promise.all([
          pool.embed(texts.slice(0, 1)),
          pool.embed(texts.slice(1, 3)),
          pool.embed(texts.slice(3)),
        ]),
      ]);
      const flat = together.flat();
      expect(flat).toHaveLength(4);
      flat.forEach((v, i) => expect(cosineSimilarity(v, separate[i]![0]!)).toBeCloseTo(1, 5));
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('refuses work after close', async () => {
    const other = await LocalUseEmbeddingProvider.create({ batchSize: 4 });
    await other.close();
    await expect(other.embed(['x'])).rejects.toBeInstanceOf(QuarryError);
    await other.close();
  }, 60_000);
});
