// Runs Quarry's apps from dist/ (built by scripts/ensure.sh): all three, or the one named.
// Lines are prefixed by app; a crashed app is restarted with backoff; Ctrl-C stops them all.
// --demo: once the gateway is up, uploads the sample documents of scripts/demo/ and runs a search.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = ['gateway', 'ingest-worker', 'analysis-worker'];
const COLORS = { gateway: 35, 'ingest-worker': 33, 'analysis-worker': 32 };
const args = process.argv.slice(2);
const demo = args.includes('--demo');
const only = args.find((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--demo');
if ((only && !APPS.includes(only)) || unknown.length) {
  console.error(`usage: npm start [-- --demo] (or: node scripts/start.mjs [${APPS.join(' | ')}] [--demo])`);
  process.exit(2);
}

const DEV_KEY = 'quarry-dev-key-change-me';
const env = {
  ...process.env,
  LOG_PRETTY: process.env.LOG_PRETTY ?? (process.stdout.isTTY ? 'true' : 'false'),
  QUARRY_BOOTSTRAP_API_KEY: process.env.QUARRY_BOOTSTRAP_API_KEY ?? DEV_KEY,
};
const port = Number(env.PORT ?? 3000);
// Each worker serves /metrics, /healthz and /readyz on a port of its own (the gateway on PORT). A
// METRICS_PORT the user set goes to the ingest worker and the next port to the analysis worker
// (0, any free port, to both; each worker logs the port it got).
const userMetricsPort = process.env.METRICS_PORT ? Number(process.env.METRICS_PORT) : undefined;
const METRICS_PORTS = {
  'ingest-worker': userMetricsPort ?? 9101,
  'analysis-worker':
    userMetricsPort === undefined
      ? 9102
      : userMetricsPort === 0 || only
        ? userMetricsPort
        : userMetricsPort + 1,
};
const metricsUrl = (app) =>
  app === 'gateway'
    ? `http://127.0.0.1:${port}/metrics`
    : METRICS_PORTS[app] === 0
      ? '(a free port: see its log)'
      : `http://127.0.0.1:${METRICS_PORTS[app]}/metrics`;
const width = Math.max(...APPS.map((a) => a.length));
let stopping = false;
const children = new Map();

function prefix(app, line) {
  const tag = `\x1b[${COLORS[app]}m${app.padEnd(width)}\x1b[0m |`;
  process.stdout.write(`${tag} ${line}\n`);
}

/** Node flags an app asks for in its package.json (`quarry.nodeFlags`), as every launcher passes them. */
function nodeFlags(app) {
  const manifest = JSON.parse(readFileSync(path.join(root, 'apps', app, 'package.json'), 'utf8'));
  return manifest.quarry?.nodeFlags ?? [];
}

function run(app, restarts = 0) {
  const child = spawn(
    process.execPath,
    [...nodeFlags(app), '--enable-source-maps', path.join(root, 'dist/apps', app, 'src/main.js')],
    {
      cwd: root,
      env: app in METRICS_PORTS ? { ...env, METRICS_PORT: String(METRICS_PORTS[app]) } : env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const startedAt = Date.now();
  children.set(app, child);
  readline.createInterface({ input: child.stdout }).on('line', (l) => prefix(app, l));
  readline.createInterface({ input: child.stderr }).on('line', (l) => prefix(app, l));
  child.on('exit', (code, signal) => {
    children.delete(app);
    if (stopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    // A run that lasted a while resets the backoff; a crash loop backs off up to 30 s.
    const next = Date.now() - startedAt > 60_000 ? 0 : restarts + 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(next, 6));
    prefix(app, `exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    setTimeout(() => run(app, next), delay);
  });
}

function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`\nstopping (${signal})...`);
  if (children.size === 0) process.exit(0);
  for (const c of children.values()) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children.values()) c.kill('SIGKILL');
    process.exit(1);
  }, 30_000).unref();
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

for (const app of only ? [only] : APPS) run(app);

if (!only || only === 'gateway') {
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  const poll = async () => {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) {
        const key = env.QUARRY_BOOTSTRAP_API_KEY;
        console.log(
          [
            '',
            `\x1b[1mQuarry is up at ${url}\x1b[0m  (API docs: ${url}/docs, web console: ${url}/console)`,
            key === DEV_KEY
              ? `API key (development default, set QUARRY_BOOTSTRAP_API_KEY to change): ${key}`
              : 'API key: the one in QUARRY_BOOTSTRAP_API_KEY',
            `  curl -H "Authorization: Bearer ${key === DEV_KEY ? key : '$QUARRY_BOOTSTRAP_API_KEY'}" -F files=@your.pdf ${url}/v1/documents`,
            `Metrics (Prometheus): ${(only ? [only] : APPS).map((a) => `${a} ${metricsUrl(a)}`).join(', ')}`,
            'Ctrl-C stops everything.',
            '',
          ].join('\n'),
        );
        if (demo) runDemo(url, key).catch((error) => console.error(`demo: ${error.message}`));
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() < deadline && !stopping) setTimeout(poll, 500);
  };
  setTimeout(poll, 500);
}

// The demo: a few short documents of the repository's own, uploaded once (tagged quarry-demo, so a later
// --demo finds them and uploads nothing), then a search printed as the curl to type and what it answered.
const DEMO_DIR = path.join(root, 'scripts/demo');
const DEMO_TAG = 'quarry-demo';
const DEMO_QUERY = 'which birds migrate between the poles?';
const MIME = {
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.pdf': 'application/pdf',
};

async function api(url, key, method, route, body) {
  const r = await fetch(`${url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body && !(body instanceof FormData) ? { 'content-type': 'application/json' } : {}),
    },
    body: body instanceof FormData ? body : body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${route} answered ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const search = (url, key, filter) =>
  api(url, key, 'POST', '/v1/search', { query: DEMO_QUERY, topK: 3, ...(filter ? { filter } : {}) });

async function runDemo(url, key) {
  const say = (line) => console.log(`\x1b[36m[demo]\x1b[0m ${line}`);
  // Healthy is not ready: uploads need the database and NATS, which /readyz checks.
  const readyBy = Date.now() + 120_000;
  while (
    !(await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (stopping) return;
    if (Date.now() > readyBy) throw new Error(`${url}/readyz did not answer 200 within 2 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // Nor does a ready gateway mean a ready analysis worker, which answers searches: 503 until it subscribes.
  let already;
  while (!already) {
    try {
      already = await search(url, key, { tags: [DEMO_TAG] });
    } catch (error) {
      if (!/answered 503/.test(error.message) || Date.now() > readyBy) throw error;
      if (stopping) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (already.results.length > 0) {
    say(`the sample documents are already there (tagged ${DEMO_TAG}); uploading nothing`);
  } else {
    const form = new FormData();
    const files = readdirSync(DEMO_DIR)
      .filter((f) => path.extname(f) in MIME)
      .sort();
    for (const f of files) {
      const type = MIME[path.extname(f)];
      form.append('files', new Blob([readFileSync(path.join(DEMO_DIR, f))], { type }), f);
    }
    form.append('tags', DEMO_TAG);
    const job = await api(url, key, 'POST', '/v1/documents', form);
    say(`uploaded ${files.join(', ')} from scripts/demo/ as job ${job.id}; waiting for it to finish`);
    const deadline = Date.now() + 300_000;
    let done;
    while (!stopping) {
      const j = await api(url, key, 'GET', `/v1/jobs/${job.id}`);
      if (['succeeded', 'completed_with_failures', 'failed', 'cancelled'].includes(j.status)) {
        done = j;
        break;
      }
      if (Date.now() > deadline) throw new Error(`job ${job.id} still ${j.status} after 5 minutes`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!done) return;
    say(
      `job ${done.id} ${done.status}: ${done.documents.map((d) => `${d.filename} ${d.status}`).join(', ')}`,
    );
  }
  const shownKey = key === DEV_KEY ? key : '$QUARRY_BOOTSTRAP_API_KEY';
  const answer = await search(url, key);
  console.log(
    [
      '',
      '\x1b[1mTry a search:\x1b[0m',
      `  curl -s -H "Authorization: Bearer ${shownKey}" -H 'content-type: application/json' \\`,
      `    -d '{"query":"${DEMO_QUERY}","topK":3}' ${url}/v1/search`,
      'It answered:',
      ...answer.results.map(
        (r, i) =>
          `  ${i + 1}. ${r.filename} (page ${r.page}, score ${Number(r.score ?? 0).toFixed(3)}): ${r.text.replace(/\s+/g, ' ').slice(0, 100)}…`,
      ),
      '',
    ].join('\n'),
  );
  say('done');
}
