// The embedding worker thread's program (started by LocalUseEmbeddings through `workerProgram`). The module
// paths come in through `workerData`, resolved by the parent from its own location.
//
// Protocol: worker → parent `{type:'ready', loadMs}` once, or `{type:'load-error', message}`; parent → worker
// `{id, texts}`; worker → parent `{type:'result', id, data}` (one Float32Array of `texts.length * dim`,
// L2-normalised rows, its buffer transferred) or `{type:'error', id, message}`. Requests are served one at a time:
// inference is single-threaded WASM, interleaving gains nothing and would hold several batches of tensors at once.
import { parentPort, workerData } from 'node:worker_threads';

export interface UseWorkerData {
  coreModule: string;
  embeddingsModule: string;
  modelModule: string;
  dim: number;
}

interface EmbeddingModel {
  embed(texts: string[]): Promise<number[][]>;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function toRows(rows: number[][], dim: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => {
    if (row.length !== dim) throw new Error(`model returned ${row.length} dimensions, expected ${dim}`);
    const norm = Math.sqrt(row.reduce((sum, v) => sum + v * v, 0)) || 1;
    for (let j = 0; j < dim; j++) out[i * dim + j] = (row[j] ?? 0) / norm;
  });
  return out;
}

async function load(data: UseWorkerData): Promise<EmbeddingModel> {
  /* eslint-disable @typescript-eslint/no-require-imports -- resolved by the parent, loaded where the model runs */
  const { ready } = require(data.coreModule) as { ready: () => Promise<void> };
  const { initModel } = require(data.embeddingsModule) as {
    initModel: (source: unknown) => Promise<EmbeddingModel>;
  };
  const { modelSource } = require(data.modelModule) as { modelSource: unknown };
  /* eslint-enable @typescript-eslint/no-require-imports */
  // initModel starts the WASM backend and loads the graph model at once, and the model's weights become tensors as
  // soon as they are read: when the backend's instantiation is the slower of the two (a loaded machine), that threw
  // "Backend 'wasm' has not yet been initialized" (1 run in 3 of this spec in a fresh clone). The backend first.
  await ready();
  const model = await initModel(modelSource);
  // The first inference compiles kernels; paying it here keeps it out of the first job's latency.
  await model.embed(['warm up']);
  return model;
}

function serve(port: NonNullable<typeof parentPort>, data: UseWorkerData): void {
  const started = performance.now();
  load(data).then(
    (model) => {
      let queue = Promise.resolve();
      const handle = async ({ id, texts }: { id: number; texts: string[] }): Promise<void> => {
        try {
          const rows = toRows(await model.embed(texts), data.dim);
          port.postMessage({ type: 'result', id, data: rows }, [rows.buffer]);
        } catch (error) {
          port.postMessage({ type: 'error', id, message: message(error) });
        }
      };
      port.on('message', (request: { id: number; texts: string[] }) => {
        queue = queue.then(() => handle(request));
      });
      port.postMessage({ type: 'ready', loadMs: performance.now() - started });
    },
    (error: unknown) => port.postMessage({ type: 'load-error', message: message(error) }),
  );
}

// Only as the program of a worker thread started for it (not when a test runner's own worker thread loads it).
const started = workerData as (UseWorkerData & { program?: string }) | null;
if (parentPort && started?.program === __filename) serve(parentPort, started);
