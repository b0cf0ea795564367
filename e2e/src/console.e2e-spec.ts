import AxeBuilder from '@axe-core/playwright';
import { REPO_ROOT, waitFor } from '@quarry/testing';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { QuarryStack, type JobBody } from './stack';

/** Debian's Chromium (scripts/ensure-chromium.sh installs it), started the way this machine needs it. */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = path.join(REPO_ROOT, 'tmp/e2e/console');
const PHONE = { width: 375, height: 812 };

interface AxeFinding {
  page: string;
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: number;
}

/**
 * The web console in headless Chromium against the whole stack, at phone width (issue 12 item 4): sign in with the
 * key, upload two files and watch their job's bar reach done, open the job and its pages, search and see the hit
 * marked, replay a dead letter. Every page visited is screenshotted into tmp/e2e/console and checked with axe-core:
 * no serious or critical violation.
 */
describe('web console', () => {
  let stack: QuarryStack;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let filesDir: string;
  const findings: AxeFinding[] = [];
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  /** A webhook receiver on loopback: the webhook-id of every delivery it got. */
  let receiver: Server;
  const received: string[] = [];

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    receiver = createServer((request, response) => {
      const id = request.headers['webhook-id'];
      if (typeof id === 'string') received.push(id);
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    stack = await QuarryStack.start('console', {
      JAEGER_UI_URL: 'http://127.0.0.1:16686',
      WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    });
    userDataDir = mkdtempSync(path.join(tmpdir(), 'quarry-chromium-'));
    filesDir = mkdtempSync(path.join(tmpdir(), 'quarry-console-files-'));
    // A new, empty profile each run (Playwright passes it as --user-data-dir).
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: PHONE,
      deviceScaleFactor: 1,
      // Screenshots show where the bars are, not half-way through their animation.
      reducedMotion: 'reduce',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => {
      if (!request.url().startsWith(stack.baseUrl) && !request.url().startsWith('data:'))
        foreignRequests.push(request.url());
    });
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('response', (response) => {
      // The error answers on purpose are 401s: the wrong key at sign-in, the revoked key.
      if (response.status() >= 400 && response.status() !== 401)
        pageErrors.push(`${response.status()} ${response.url()}`);
    });
  }, 180_000);

  afterAll(async () => {
    writeFileSync(path.join(SHOTS, 'axe.json'), JSON.stringify(findings, null, 2));
    await context?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await stack?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (filesDir) rmSync(filesDir, { recursive: true, force: true });
  });

  /** A link of the main navigation. */
  const nav = (name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

  /** A screenshot of the whole page, and axe-core's WCAG 2.1 A/AA rules: nothing serious or critical. */
  async function checkPage(name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    const result = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
      .analyze();
    expect(result.passes.length).toBeGreaterThan(10); // axe really ran its rules on this page
    for (const v of result.violations)
      findings.push({ page: name, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length });
    const serious = result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect([name, serious]).toEqual([name, []]);
  }

  it('signs in with an API key kept in the tab only', async () => {
    await page.goto(`${stack.baseUrl}/console/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const response = await page.request.get(`${stack.baseUrl}/console/`);
    expect(response.headers()['content-security-policy']).toContain("default-src 'self'");
    await checkPage('01-sign-in');

    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/unauthori|invalid|key/i);

    await page.getByLabel('API key').fill(stack.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    expect(page.url()).not.toContain(stack.apiKey);
    // Browser code as strings: this project's types have no DOM.
    expect(await page.evaluate("sessionStorage.getItem('quarry.console.apiKey')")).toBe(stack.apiKey);
    expect(await page.evaluate('localStorage.length + document.cookie.length')).toBe(0);
  });

  it('registers a webhook and shows its signing secret once', async () => {
    await nav('Webhooks').click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    const port = (receiver.address() as AddressInfo).port;
    await page.getByLabel('Endpoint URL').fill(`http://127.0.0.1:${port}/quarry`);
    await page.getByLabel('Events (comma-separated patterns)').fill('job.*');
    await page.getByRole('button', { name: 'Register webhook' }).click();
    await page.getByText(/Signing secret, shown only now/).waitFor();
    expect(await page.locator('.secret code').textContent()).toMatch(/^whsec_/);
    expect(await page.locator('li[data-webhook-id]').count()).toBe(1);
    await checkPage('02-webhook-created');
    await nav('Jobs').click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
  });

  let jobId = '';

  it('uploads two files and shows the job live until its progress bar is done', async () => {
    await page.getByText(/Live updates on/).waitFor();
    const lighthouse = path.join(filesDir, 'lighthouse.txt');
    const tides = path.join(filesDir, 'tides.txt');
    writeFileSync(lighthouse, 'The lighthouse keeper logs every ship that passes the northern reef.\n');
    writeFileSync(tides, 'Spring tides rise highest at new moon, and the harbour master posts the table.\n');
    await page.getByLabel('Files').setInputFiles([lighthouse, tides]);
    await page.getByRole('button', { name: 'Upload 2 files' }).click();
    await page.getByText(/Uploaded 2 files as job/).waitFor();

    const row = page.locator('li.job').first();
    jobId = (await row.getAttribute('data-job-id')) ?? '';
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    const bar = row.getByRole('progressbar');
    await page.screenshot({ path: path.join(SHOTS, '03-uploading.png'), fullPage: true });
    await row.locator('[aria-valuenow="100"]').waitFor({ timeout: 60_000 });
    expect(await bar.getAttribute('aria-valuetext')).toBe('100% — succeeded');
    expect(await row.getAttribute('data-status')).toBe('succeeded');
    expect(await row.textContent()).toContain('2 of 2 documents finished');
    // The bar got there through the tenant's event stream, not a page reload.
    expect(Number(await page.locator('.live').getAttribute('data-events'))).toBeGreaterThan(0);
    await checkPage('04-jobs-done');
  });

  it('opens the job: documents with status, step timings, the trace link, and the extracted text', async () => {
    await page.locator(`li.job[data-job-id="${jobId}"] a`).first().click();
    await page.getByRole('heading', { name: 'Documents (2)' }).waitFor();
    expect(page.url()).toBe(`${stack.baseUrl}/console/jobs/${jobId}`);
    const docs = page.locator('li.doc');
    expect(await docs.count()).toBe(2);
    for (const doc of await docs.all()) expect(await doc.getAttribute('data-status')).toBe('indexed');
    expect(await page.locator('.facts').first().textContent()).toMatch(/Ran for\d/);
    // Each step with its progress and how long it took.
    await page.getByRole('heading', { name: 'Steps' }).waitFor();
    for (const step of ['ingest', 'index']) {
      const row = page.getByRole('row', { name: new RegExp(`^${step} `) });
      expect(await row.textContent()).toMatch(/succeeded2 \/ 2.*\d+(\.\d)? (ms|s)$/);
    }
    const job = (await stack.request<JobBody>('GET', `/v1/jobs/${jobId}`)).body;
    if (job.traceId) {
      const trace = page.getByRole('link', { name: /Open trace .* in Jaeger/ });
      expect(await trace.getAttribute('href')).toBe(`http://127.0.0.1:16686/trace/${job.traceId}`);
    }
    await page.getByRole('button', { name: 'Show pages of lighthouse.txt' }).click();
    await page.getByText('The lighthouse keeper logs every ship').waitFor();
    await checkPage('05-job');

    // A reload on an app route is the app again (the gateway answers index.html), still signed in.
    await page.reload();
    await page.getByRole('heading', { name: 'Documents (2)' }).waitFor();
  });

  it('searches and marks the words that matched', async () => {
    await nav('Search').click();
    await page.getByLabel('Search the documents').fill('lighthouse keeper');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const hit = page.locator('li.hit').first();
    await hit.waitFor();
    expect(await hit.textContent()).toContain('lighthouse.txt');
    const marks = await hit.locator('mark').allTextContents();
    expect(marks.join(' ').toLowerCase()).toContain('lighthouse');
    await checkPage('06-search');
  });

  it('asks a question and classifies the documents, following each analysis job to its result', async () => {
    await nav('Analyses').click();
    await page.getByLabel('Question', { exact: true }).fill('Who logs every ship that passes the reef?');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    const answer = page.locator('[data-analysis="answer"]');
    await answer.waitFor({ timeout: 60_000 });
    expect(await answer.textContent()).toContain('lighthouse.txt');

    await page
      .getByLabel('Labels, one per line (name: description)')
      .fill('sea: ships, reefs and lighthouses\ncalendar: tides, moons and tables');
    await page.getByRole('button', { name: 'Classify', exact: true }).click();
    const classified = page.locator('[data-analysis="classify"]');
    await classified.waitFor({ timeout: 60_000 });
    expect(await classified.locator('li').count()).toBe(2);
    expect(await classified.textContent()).toMatch(/lighthouse\.txt: (sea|calendar)/);
    await checkPage('07-analyses');
  });

  it('lists a dead letter and replays it as a new job', async () => {
    const pg = new Client({ connectionString: stack.db.url });
    await pg.connect();
    let deadLetterId: string;
    try {
      const { rows } = await pg.query<{ id: string }>(
        `INSERT INTO dead_letters (id, tenant_id, job_id, document_id, command, origin_subject, origin_msg_id,
                                   dlq_stream_seq, code, reason, delivery_count, payload)
         SELECT gen_random_uuid(), j.tenant_id, j.id, d.id, 'ingestDocument', 'x.jobs.ingest', 'console-e2e', 1,
                'internal', 'the parser crashed (made by the console test)', 5, '{}'
           FROM jobs j JOIN documents d ON d.job_id = j.id
          WHERE j.id = $1 LIMIT 1
         RETURNING id`,
        [jobId],
      );
      deadLetterId = rows[0]?.id ?? '';
    } finally {
      await pg.end();
    }
    expect(deadLetterId).toMatch(/^[0-9a-f-]{36}$/);

    await nav('Dead letters').click();
    const item = page.locator(`li.dl[data-dead-letter-id="${deadLetterId}"]`);
    await item.waitFor();
    expect(await item.textContent()).toContain('the parser crashed');
    await checkPage('08-dead-letters');
    await item.getByRole('button', { name: 'Replay ingestDocument' }).click();
    await item.getByText(/Replayed as job/).waitFor();
    const replayLink = item.locator('.replay-result a');
    const replayJobId = ((await replayLink.getAttribute('href')) ?? '').split('/').pop() ?? '';
    const replay = (await stack.request<JobBody & { retryOfJobId: string }>('GET', `/v1/jobs/${replayJobId}`))
      .body;
    expect(replay.retryOfJobId).toBe(jobId);
    await checkPage('09-dead-letter-replayed');

    // The replay's own page follows it to the end.
    await replayLink.click();
    await page.locator('[role="progressbar"][aria-valuenow="100"]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: path.join(SHOTS, '10-replay-job.png'), fullPage: true });
  });

  it('shows the webhook delivery log and posts a delivery again', async () => {
    await nav('Webhooks').click();
    const hook = page.locator('li[data-webhook-id]').first();
    await hook.waitFor();
    // The upload's and the replay's job events reached the receiver.
    await waitFor(() => received.length > 0, {
      timeoutMs: 30_000,
      intervalMs: 200,
      description: 'a delivery at the receiver',
    });
    expect(received.length).toBeGreaterThan(0);
    await hook.getByRole('button', { name: 'Show deliveries' }).click();
    const row = hook.locator('li[data-delivery-id]').first();
    await row.waitFor();
    expect(await hook.locator('li[data-delivery-id]').count()).toBeGreaterThan(0);
    const before = received.length;
    await row.getByRole('button', { name: /^Replay job\./ }).click();
    await hook.getByText(/queued again/).waitFor();
    await waitFor(() => received.length > before, {
      timeoutMs: 30_000,
      intervalMs: 200,
      description: 'the replayed delivery at the receiver',
    });
    expect(received.length).toBeGreaterThan(before);
    await checkPage('11-webhook-deliveries');
  });

  it('creates an API key, shows it once, and revokes it', async () => {
    await nav('Keys').click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    await page.getByLabel('Name').fill('console-e2e');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText(/The new key, shown only now/).waitFor();
    const secret = (await page.locator('.secret code').textContent()) ?? '';
    expect(
      (
        await stack.request('GET', '/v1/jobs?limit=1', {
          auth: false,
          headers: { authorization: `Bearer ${secret}` },
        })
      ).status,
    ).toBe(200);
    await checkPage('12-keys');
    const item = page.locator('li[data-key-id]', { hasText: 'console-e2e' });
    await item.getByRole('button', { name: 'Revoke console-e2e' }).click();
    await item.getByRole('button', { name: 'Yes, revoke console-e2e' }).click();
    await item.getByText('revoked').waitFor();
    expect(
      (
        await stack.request('GET', '/v1/jobs?limit=1', {
          auth: false,
          headers: { authorization: `Bearer ${secret}` },
        })
      ).status,
    ).toBe(401);
    // A page that finds its key refused (revoked since) signs the person out and says why.
    await page.evaluate(`sessionStorage.setItem('quarry.console.apiKey', ${JSON.stringify(secret)})`);
    await page.reload();
    await page.getByText(/The API key was refused/).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('quarry.console.apiKey')")).toBeNull();
    await page.getByLabel('API key').fill(stack.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  });

  it('charts the usage by day with the quotas', async () => {
    await nav('Usage').click();
    await page.getByRole('heading', { name: 'Pages parsed by day' }).waitFor();
    const chart = page.getByRole('img', { name: /Pages parsed by day/ });
    expect(await chart.getAttribute('class')).toBe('chart');
    expect(await page.locator('.chart-bar').count()).toBeGreaterThan(0);
    await page.getByLabel('Measure').selectOption('documents');
    await page.getByRole('heading', { name: 'Documents by day' }).waitFor();
    await checkPage('13-usage');
  });

  it('fetched nothing from elsewhere and logged no errors (no CSP violation)', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
