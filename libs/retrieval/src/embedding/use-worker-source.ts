/**
 * The worker thread's program, as plain CommonJS source run with `new Worker(code, { eval: true })`.
 * A string rather than a sibling file: the build emits only compiled .ts and Jest runs the .ts sources
 * through swc, so no worker file path would be valid in both; a string is the same in both. The module
 * paths come in through `workerData`, resolved by the parent, so the worker needs no resolution of
 * its own (an eval'd worker resolves relative to the process's working directory).
 *
 * Protocol: worker → parent `{type:'ready', loadMs}` once, or `{type:'load-error', message}`; parent →
 * worker `{id, texts}`; worker → parent `{type:'result', id, data}` (one Float32Array of
 * `texts.length * dim`, L2-normalised rows, its buffer transferred) or `{type:'error', id, message}`.
 * Requests are served one at a time: inference is single-threaded WASM, interleaving gains nothing and
 * would hold several batches of tensors at once.
 */
export const USE_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { embeddingsModule, modelModule, dim } = workerData;
const started = performance.now();
const message = (error) => (error instanceof Error ? error.message : String(error));

function toRows(rows) {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row.length !== dim) throw new Error('model returned ' + row.length + ' dimensions, expected ' + dim);
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += row[j] * row[j];
    const norm = Math.sqrt(sum) || 1;
    for (let j = 0; j < dim; j++) out[i * dim + j] = row[j] / norm;
  }
  return out;
}

async function main() {
  const { initModel } = require(embeddingsModule);
  const { modelSource } = require(modelModule);
  const model = await initModel(modelSource);
  // The first inference compiles kernels; paying it here keeps it out of the first job's latency.
  await model.embed(['warm up']);
  return model;
}

main().then(
  (model) => {
    let queue = Promise.resolve();
    const handle = async ({ id, texts }) => {
      try {
        const data = toRows(await model.embed(texts));
        parentPort.postMessage({ type: 'result', id, data }, [data.buffer]);
      } catch (error) {
        parentPort.postMessage({ type: 'error', id, message: message(error) });
      }
    };
    parentPort.on('message', (request) => {
      queue = queue.then(() => handle(request));
    });
    parentPort.postMessage({ type: 'ready', loadMs: performance.now() - started });
  },
  (error) => parentPort.postMessage({ type: 'load-error', message: message(error) }),
);
`;
