/**
 * Group commit for repository calls: the calls made in one turn of the event loop (the handlers of one fetched
 * batch of messages, the publishes that finished together) run as one statement or transaction instead of one
 * each. A call made while a batch runs waits for the next batch, which takes every call queued by then, so with
 * nothing in flight a call waits one `setImmediate` and under load the batches grow with the load.
 *
 * `run` gets the queued inputs and returns one output per input, in order. When a batch of several fails, each of
 * its calls is run again on its own, so one bad input fails only its own call.
 *
 * `lingerMs` makes a batch wait that long for company before it runs: only for calls nobody waits on (bookkeeping
 * such as the outbox's sent marks), where a few milliseconds cost nothing and save a statement per call when
 * the load is too light to fill batches on its own.
 */
export class Batcher<I, O> {
  private queue: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = [];
  private draining = false;

  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly maxBatch = 100,
    private readonly lingerMs = 0,
  ) {}

  call(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        if (this.lingerMs > 0) setTimeout(() => void this.drain(), this.lingerMs);
        else setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.runBatch(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async runBatch(batch: typeof this.queue): Promise<void> {
    let outputs: O[];
    try {
      outputs = await this.run(batch.map((b) => b.input));
      if (outputs.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} returned ${outputs.length} results`);
      }
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      await Promise.all(batch.map((b) => this.runBatch([b])));
      return;
    }
    batch.forEach((b, i) => b.resolve(outputs[i] as O));
  }
}
