import { spawn } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, REPO_ROOT } from '@quarry/testing';
import { PDFDocument } from 'pdf-lib';
import { QuarryStack } from './stack';

/** The built `quarry` bin (apps/cli/bin/quarry.js → dist/apps/cli/src/main.js), as `npx quarry` runs it. */
const BIN = path.join(REPO_ROOT, 'apps/cli/bin/quarry.js');
/* eslint-disable no-control-regex -- what a terminal gets is escape sequences: the assertions look for them */
const SGR = /\u001b\[[0-9;]*m/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A home of its own per test: the config file `quarry login` writes lands there, never in the real one. */
function tempHome(): { HOME: string; XDG_CONFIG_HOME: string } {
  const home = mkdtempSync(path.join(tmpdir(), 'quarry-cli-home-'));
  return { HOME: home, XDG_CONFIG_HOME: path.join(home, 'config') };
}

/** The environment a person's shell would have, without the test runner's color or CI hints. */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'LANG', 'TZ']) if (process.env[name]) env[name] = process.env[name];
  return { TERM: 'xterm-256color', ...env, ...extra };
}

function run(args: string[], env: Record<string, string>, cwd = REPO_ROOT, pty = false): Promise<Run> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // util-linux `script` runs the command under a pseudo-terminal: stdout is a TTY, as in a person's terminal.
  const child = pty
    ? spawn('script', ['-qfec', `stty cols 120 2>/dev/null; ${quoted}`, '/dev/null'], { cwd, env })
    : spawn(process.execPath, [BIN, ...args], { cwd, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('quarry CLI against the stack', () => {
  let stack: QuarryStack;
  let dir: string;
  let auth: Record<string, string>;
  let jobId: string;

  beforeAll(async () => {
    stack = await QuarryStack.start('cli');
    dir = mkdtempSync(path.join(tmpdir(), 'quarry-cli-'));
    writeFileSync(
      path.join(dir, 'lighthouse.txt'),
      'The lighthouse keeper logs every ship that passes the reef.\n',
    );
    writeFileSync(
      path.join(dir, 'tides.md'),
      '# Tides\n\nSpring tides rise highest at new moon and full moon.\n',
    );
    // A PDF cut to a third of its bytes: the ingest worker fails it with corrupt_pdf.
    const pdf = await PDFDocument.create();
    pdf.addPage().drawText('The harbour master keeps the tide tables.');
    const bytes = await pdf.save();
    writeFileSync(path.join(dir, 'broken.pdf'), bytes.subarray(0, Math.floor(bytes.length / 3)));
    auth = { QUARRY_URL: stack.baseUrl, QUARRY_API_KEY: stack.apiKey };
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('uploads two files with --wait under a terminal: bars drawn in place, then a final line per file', async () => {
    const r = await run(
      ['upload', 'lighthouse.txt', 'tides.md', '--wait', '--tags', 'sea'],
      baseEnv({ ...tempHome(), ...auth }),
      dir,
      true,
    );
    expect(r.code).toBe(0);
    const out = r.stdout;
    // Drawn with cursor movement and carriage returns, with bars and percentages.
    expect(out).toMatch(/\u001b\[\d*[AGK]|\r/);
    expect(out).toMatch(/[█░]{10,}/);
    expect(out).toMatch(/100%/);
    expect(out).toMatch(SGR); // colors on a terminal
    const plain = out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    const final = plain.lastIndexOf('%');
    const tail = plain.slice(final);
    expect(tail).toMatch(/indexed\s+lighthouse\.txt/);
    expect(tail).toMatch(/indexed\s+tides\.md/);
    const outcome = /job ([0-9a-f-]{36}) succeeded: 2 indexed, 0 failed/.exec(tail);
    expect(outcome).not.toBeNull();
    jobId = outcome![1]!;
  });

  it('prints no color under a terminal with NO_COLOR, and exits 1 when a file fails', async () => {
    const r = await run(
      ['upload', 'broken.pdf', 'lighthouse.txt', '--wait'],
      baseEnv({ ...tempHome(), ...auth, NO_COLOR: '1' }),
      dir,
      true,
    );
    expect(r.stdout).toMatch(/[█░]{10,}/);
    expect(r.stdout).not.toMatch(SGR);
    expect(r.stdout).toMatch(/failed\s+broken\.pdf\s+corrupt_pdf: /);
    expect(r.stdout).toMatch(/completed_with_failures: 1 indexed, 1 failed/);
    expect(r.code).toBe(1);

    // Its failed document retried as a new job; cancelling a job that has ended is a conflict: exit 1.
    const failedJob = /job ([0-9a-f-]{36}) completed_with_failures/.exec(r.stdout)![1]!;
    const env = baseEnv({ ...tempHome(), ...auth });
    const retried = await run(['jobs', 'retry', failedJob, '--json'], env);
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ retryOfJobId: failedJob });
    const cancel = await run(['jobs', 'cancel', failedJob], env);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('conflict');
  });

  it('prints plain lines per state change when not on a terminal', async () => {
    // --classify goes as label objects (a JSON array of bare names is refused by the gateway).
    const r = await run(
      ['upload', 'tides.md', '--wait', '--classify', 'sea,land', '--metadata', '{"source":"cli"}'],
      baseEnv({ ...tempHome(), ...auth }),
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\u001b|\r/);
    expect(r.stdout).toMatch(/^tides\.md: queued$/m);
    expect(r.stdout).toMatch(/^tides\.md: indexed$/m);
    expect(r.stdout).toMatch(/^indexed\s+tides\.md$/m);
  });

  it('with --json prints exactly one JSON document: the finished jobs', async () => {
    const r = await run(['upload', '.', '--wait', '--json'], baseEnv({ ...tempHome(), ...auth }), dir);
    expect(r.code).toBe(1); // broken.pdf fails
    const body = JSON.parse(r.stdout) as {
      jobs: { status: string; documents: { filename: string; status: string }[] }[];
    };
    expect(body.jobs).toHaveLength(1);
    expect(body.jobs[0]!.status).toBe('completed_with_failures');
    expect(body.jobs[0]!.documents.map((d) => `${d.filename}:${d.status}`).sort()).toEqual([
      'broken.pdf:failed',
      'lighthouse.txt:indexed',
      'tides.md:indexed',
    ]);
  });

  it("splits more files than the gateway's per-request limit into several jobs, saying so", async () => {
    const r = await run(
      ['upload', 'lighthouse.txt', 'tides.md', '--batch-size', '1'],
      baseEnv({ ...tempHome(), ...auth }),
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('2 files: sending them as 2 jobs of at most 1');
    expect(
      r.stdout.match(/^job [0-9a-f-]{36} queued: 1 file\(s\); follow it with: quarry jobs watch /gm),
    ).toHaveLength(2);
  });

  it('search --json and jobs show --json answer JSON; the human search bolds its highlights', async () => {
    const env = baseEnv({ ...tempHome(), ...auth });
    const found = await run(['search', 'lighthouse', 'keeper', '--tag', 'sea', '--json'], env);
    expect(found.code).toBe(0);
    const hits = JSON.parse(found.stdout) as { results: { filename: string }[] };
    expect(hits.results[0]?.filename).toBe('lighthouse.txt');

    const shown = await run(['jobs', 'show', jobId, '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: jobId, status: 'succeeded' });

    // A finished job's watch: its events as JSON lines, the job last.
    const watched = await run(['jobs', 'watch', jobId, '--json'], env);
    expect(watched.code).toBe(0);
    const events = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type?: string; status?: string });
    expect(events.map((e) => e.type)).toContain('document.indexed');
    expect(events.at(-2)?.type).toBe('job.succeeded');
    expect(events.at(-1)).toMatchObject({ id: jobId, status: 'succeeded' });

    const human = await run(
      ['search', 'lighthouse', '--mode', 'keyword'],
      baseEnv({ ...tempHome(), ...auth }),
      REPO_ROOT,
      true,
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('\u001b[1mlighthouse\u001b[22m');
  });

  it('ask follows the answer analysis and prints it with citations; --json gives JSON lines', async () => {
    const env = baseEnv({ ...tempHome(), ...auth });
    const r = await run(['ask', 'When', 'do', 'spring', 'tides', 'rise', 'highest?', '--json'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, -1).every((e) => typeof e['type'] === 'string' && e['type'] !== 'answer')).toBe(
      true,
    );
    const job = lines.at(-1) as {
      status: string;
      result: { type: string; citations: { filename: string }[] };
    };
    expect(job.status).toBe('succeeded');
    expect(job.result.type).toBe('answer');
    expect(job.result.citations.map((c) => c.filename)).toContain('tides.md');

    const human = await run(['ask', 'When do spring tides rise highest?'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Sources \(\w+\):\n\s+\[1\] \S+/);
  });

  it('keys, usage, dead letters and webhooks answer JSON for scripts', async () => {
    const env = baseEnv({ ...tempHome(), ...auth });
    const json = async <T>(args: string[], code = 0): Promise<T> => {
      const r = await run([...args, '--json'], env);
      expect({ args, code: r.code }).toEqual({ args, code });
      return JSON.parse(r.stdout) as T;
    };
    const created = await json<{ id: string; key: string; scopes: string[] }>([
      'keys',
      'create',
      'ci',
      '--scopes',
      'read',
    ]);
    expect(created.scopes).toEqual(['read']);
    // The new key lists jobs but may not manage keys: 403 is exit 3.
    const readOnly = baseEnv({ ...tempHome(), ...auth, QUARRY_API_KEY: created.key });
    expect((await run(['jobs', 'list', '--json'], readOnly)).code).toBe(0);
    expect((await run(['keys', 'list'], readOnly)).code).toBe(3);
    const keys = await json<{ items: { id: string }[] }>(['keys', 'list']);
    expect(keys.items.map((k) => k.id)).toContain(created.id);
    expect(await json<{ revokedAt: string | null }>(['keys', 'revoke', created.id])).toMatchObject({
      revokedAt: expect.any(String) as unknown,
    });
    const usage = await json<{ totals: { documents: number }; days: unknown[] }>([
      'usage',
      '--group-by',
      'day',
    ]);
    expect(typeof usage.totals.documents).toBe('number');
    expect(usage.days.length).toBeGreaterThan(0);
    expect(Array.isArray((await json<{ items: unknown[] }>(['dead-letters', 'list'])).items)).toBe(true);
    expect(await json<{ items: unknown[] }>(['webhooks', 'list'])).toEqual({ items: [] });
    await json(['webhooks', 'deliveries', '0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f'], 4);
  });

  it('exits 4 for a job that does not exist, 3 when not logged in, 2 for a bad command line', async () => {
    const missing = await run(
      ['jobs', 'show', '0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f', '--json'],
      baseEnv({ ...tempHome(), ...auth }),
    );
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('not_found');
    expect(JSON.parse(missing.stdout)).toMatchObject({
      error: { code: 'not_found', status: 404 },
      exitCode: 4,
    });

    const anonymous = await run(['jobs', 'list'], baseEnv(tempHome()));
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toContain('not logged in');
    expect(anonymous.stderr).toContain('quarry login');

    const refused = await run(
      ['jobs', 'list'],
      baseEnv({ ...tempHome(), ...auth, QUARRY_API_KEY: 'wrong-key-123' }),
    );
    expect(refused.code).toBe(3);

    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await run(['jobs', 'list'], baseEnv({ ...tempHome(), ...auth, QUARRY_URL: nobody }));
    expect(down.code).toBe(5);
    expect(down.stderr).toContain('cannot reach the gateway: ECONNREFUSED');

    expect((await run(['jobs', 'list', '--limit', 'many'], baseEnv({ ...tempHome(), ...auth }))).code).toBe(
      2,
    );
    expect((await run(['upload', 'nothing-here.txt'], baseEnv({ ...tempHome(), ...auth }), dir)).code).toBe(
      2,
    );
  });

  it('login writes the config file with mode 0600, and later commands use it', async () => {
    const home = tempHome();
    const login = await run(['login', '--url', stack.baseUrl, '--api-key', stack.apiKey], baseEnv(home));
    expect(login.code).toBe(0);
    const file = path.join(home.XDG_CONFIG_HOME, 'quarry', 'config.json');
    expect(login.stdout).toContain(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const list = await run(['jobs', 'list', '--json'], baseEnv(home));
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { items: { id: string }[] }).items.map((j) => j.id)).toContain(jobId);

    // A refused key is not stored.
    const bad = await run(
      ['login', '--url', stack.baseUrl, '--api-key', 'wrong-key-123'],
      baseEnv(tempHome()),
    );
    expect(bad.code).toBe(3);
  });
});
