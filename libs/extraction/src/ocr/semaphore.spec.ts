import { Semaphore } from './semaphore';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Semaphore', () => {
  it('runs at most `size` tasks at once, in arrival order', async () => {
    const semaphore = new Semaphore(2);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      semaphore.use(async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await new Promise<void>((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    gates[1]?.resolve();
    await runs[1];
    await new Promise<void>((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.resolve();
    gates[2]?.resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2]);
  });

  it('frees the slot of a task that fails', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.use(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(semaphore.use(() => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('drops a waiter whose signal aborts, rejecting with the reason', async () => {
    const semaphore = new Semaphore(1);
    const gate = deferred();
    const holder = semaphore.use(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const waiter = semaphore.use(() => {
      ran = true;
      return Promise.resolve();
    }, controller.signal);
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(waiter).rejects.toBe(reason);
    gate.resolve();
    await holder;
    await expect(semaphore.use(() => Promise.resolve('free'))).resolves.toBe('free');
    expect(ran).toBe(false);
  });
});
