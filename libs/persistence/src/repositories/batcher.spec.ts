import { Batcher } from './batcher';

describe('Batcher', () => {
  it('runs the calls of one turn together and returns each its own output', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>((inputs) => {
      batches.push(inputs);
      return Promise.resolve(inputs.map((i) => i * 10));
    });
    const outputs = await Promise.all([batcher.call(1), batcher.call(2), batcher.call(3)]);
    expect(outputs).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('queues calls made while a batch runs into the next batch', async () => {
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    const batcher = new Batcher<string, string>(async (inputs) => {
      batches.push(inputs);
      if (batches.length === 1) await new Promise<void>((r) => (release = r));
      return inputs;
    });
    const first = batcher.call('a');
    await new Promise((r) => setImmediate(r));
    const later = [batcher.call('b'), batcher.call('c')];
    expect(batches).toEqual([['a']]);
    release?.();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('splits batches at maxBatch', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>((inputs) => {
      sizes.push(inputs.length);
      return Promise.resolve(inputs);
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((i) => batcher.call(i)));
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('fails only the call whose input fails: a failed batch is run again call by call', async () => {
    const batcher = new Batcher<string, string>((inputs) =>
      inputs.includes('bad')
        ? Promise.reject(new Error(`cannot store ${inputs.join(',')}`))
        : Promise.resolve(inputs),
    );
    const results = await Promise.allSettled([batcher.call('ok'), batcher.call('bad'), batcher.call('fine')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('cannot store bad'));
  });

  it('rejects when run returns the wrong number of outputs', async () => {
    const batcher = new Batcher<number, number>(() => Promise.resolve([]));
    await expect(batcher.call(1)).rejects.toThrow('a batch of 1 returned 0 results');
  });

  it('with a linger, gathers calls made across turns within it into one batch', async () => {
    jest.useFakeTimers();
    try {
      const batches: number[][] = [];
      const batcher = new Batcher<number, void>(
        (inputs) => {
          batches.push(inputs);
          return Promise.resolve(inputs.map(() => undefined));
        },
        100,
        10,
      );
      const first = batcher.call(1);
      jest.advanceTimersByTime(5);
      const second = batcher.call(2);
      expect(batches).toEqual([]);
      jest.advanceTimersByTime(5);
      await Promise.all([first, second]);
      expect(batches).toEqual([[1, 2]]);
    } finally {
      jest.useRealTimers();
    }
  });
});
