/**
 * The body of the pdf.js worker thread, run with `new Worker(PDF_WORKER_SOURCE, { eval: true })`.
 *
 * Why a string: the same code must start under Jest (sources are .ts, transformed in memory by SWC, so there is
 * no worker file on disk to point at) and from the build (`scripts/build.mjs` emits only compiled .ts files, so a
 * sibling .mjs would not be copied to dist). An eval'd CommonJS body has neither problem. It stays plain
 * JavaScript on purpose: stringifying a compiled function would pick up coverage counters and SWC helpers.
 * Everything it needs (the absolute pdf.js URL, the local font and cMap folders) comes in through workerData,
 * because an eval'd worker resolves bare specifiers against the process cwd, not this package.
 *
 * Protocol, worker → parent, in order: `open` {pageCount}, one `page` {pageNumber, items: PackedTextItems} per page, then
 * exactly one of `done` or `failed` {name, message, stage, pageNumber?}. The loading task is always destroyed
 * before the final message.
 */
export const PDF_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

function describe(error) {
  if (error && typeof error === 'object') {
    return { name: String(error.name || 'Error'), message: String(error.message || error), code: error.code };
  }
  return { name: 'Error', message: String(error) };
}

async function run() {
  let pdfjs;
  try {
    pdfjs = await import(workerData.pdfjsUrl);
  } catch (error) {
    parentPort.postMessage({ type: 'failed', stage: 'load', ...describe(error) });
    return;
  }
  const loadingTask = pdfjs.getDocument({
    data: new Uint8Array(workerData.data),
    standardFontDataUrl: workerData.standardFontDataUrl,
    cMapUrl: workerData.cMapUrl,
    cMapPacked: true,
    wasmUrl: workerData.wasmUrl,
    iccUrl: workerData.iccUrl,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    disableAutoFetch: true,
    disableStream: true,
    stopAtErrors: false,
    verbosity: 0,
  });
  let final = { type: 'done' };
  let stage = 'open';
  let pageNumber;
  try {
    const doc = await loadingTask.promise;
    parentPort.postMessage({ type: 'open', pageCount: doc.numPages });
    stage = 'page';
    for (pageNumber = 1; pageNumber <= doc.numPages; pageNumber++) {
      const page = await doc.getPage(pageNumber);
      const content = await page.getTextContent();
      // Packed into flat arrays so a page of a million items crosses to the parent without a million objects.
      const items = content.items.filter((item) => typeof item.str === 'string');
      const lengths = new Uint32Array(items.length);
      const geometry = new Float64Array(items.length * 4);
      const eol = new Uint8Array(items.length);
      const strs = new Array(items.length);
      items.forEach((item, i) => {
        strs[i] = item.str;
        lengths[i] = item.str.length;
        geometry[i * 4] = item.transform[4];
        geometry[i * 4 + 1] = item.transform[5];
        geometry[i * 4 + 2] = item.width;
        geometry[i * 4 + 3] = item.height;
        eol[i] = item.hasEOL ? 1 : 0;
      });
      page.cleanup();
      parentPort.postMessage(
        { type: 'page', pageNumber, items: { text: strs.join(''), lengths, geometry, eol } },
        [lengths.buffer, geometry.buffer, eol.buffer],
      );
    }
  } catch (error) {
    final = { type: 'failed', stage, pageNumber: stage === 'page' ? pageNumber : undefined, ...describe(error) };
  } finally {
    await loadingTask.destroy();
  }
  parentPort.postMessage(final);
}

run().catch((error) => {
  parentPort.postMessage({ type: 'failed', stage: 'worker', ...describe(error) });
});
`;
