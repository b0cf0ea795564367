import { randomBytes } from 'node:crypto';
import { mulberry32 } from '@quarry/test-kit';
import { makeTestPdf } from '@quarry/testing';
import type { ChaosStack } from './chaos-stack';

export interface LoadPlan {
  /** Jobs to submit; each holds 1–3 documents. */
  jobs: number;
  /** Steady submission rate, so the fault lands while work is arriving, queued and in flight. */
  jobsPerSecond: number;
  /** Share of documents that are PDFs (the rest are text files, a quarter of them long). */
  pdfShare?: number;
  /** Every n-th job carries one poison document next to a good one. */
  poisonEvery?: number;
}

export interface AcceptedJob {
  id: string;
  key: string;
  documents: number;
  poison: boolean;
  /** Upload attempts it took (a client retries with the same Idempotency-Key). */
  attempts: number;
}

interface FileSpec {
  name: string;
  bytes: Uint8Array;
  type: string;
}

const WORDS = (
  'invoice shipment warehouse customs ledger audit harbour freight pallet carrier manifest ' +
  'quarterly budget review forecast supplier contract tender clause signature archive'
).split(' ');

function sentence(rng: () => number, tag: string): string {
  const words = Array.from(
    { length: 10 + Math.floor(rng() * 10) },
    () => WORDS[Math.floor(rng() * WORDS.length)],
  );
  return `Record ${tag}: ${words.join(' ')}.`;
}

/**
 * One document. Every document's bytes are unique (they carry the run, job and document), so no
 * upload reuses another's extraction and every chunk count is the document's own.
 */
async function makeDocument(
  rng: () => number,
  tag: string,
  pdfShare: number,
  poison?: string,
): Promise<FileSpec> {
  if (poison) {
    const text = `${sentence(rng, tag)}\n\n${poison} ${sentence(rng, tag)}\n`;
    return { name: `${tag}-poison.txt`, bytes: new TextEncoder().encode(text), type: 'text/plain' };
  }
  if (rng() < pdfShare) {
    const pages = Array.from({ length: 1 + Math.floor(rng() * 2) }, (_, p) => [
      `Report ${tag} page ${p + 1}`,
      '',
      sentence(rng, `${tag}/${p + 1}`),
      sentence(rng, `${tag}/${p + 1}`),
    ]);
    return { name: `${tag}.pdf`, bytes: await makeTestPdf(pages), type: 'application/pdf' };
  }
  // A quarter are long enough for several chunks, where a duplicate or a missing chunk would show.
  const paragraphs = rng() < 0.25 ? 40 + Math.floor(rng() * 40) : 2 + Math.floor(rng() * 4);
  const text = Array.from({ length: paragraphs }, () => sentence(rng, tag)).join('\n\n');
  return { name: `${tag}.txt`, bytes: new TextEncoder().encode(`${text}\n`), type: 'text/plain' };
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_ATTEMPTS = 40;

/**
 * Submits the plan's jobs over HTTP at a steady rate, as a well-behaved client would: an upload that
 * fails with a connection error or a 5xx is retried with the same Idempotency-Key, so a job the
 * gateway committed before it died is answered again instead of created twice.
 */
export class LoadDriver {
  readonly accepted = new Map<string, AcceptedJob>();
  /** Failed upload attempts by reason (`503 dependency_unavailable`, `ECONNREFUSED`, …). */
  readonly failedAttempts = new Map<string, number>();
  /** Jobs that were never accepted, even after every retry. */
  readonly unaccepted: string[] = [];
  /** Answers that were not a retryable failure nor a 202 (a 4xx would be a bug). */
  readonly unexpected: string[] = [];
  submitted = 0;
  replayed = 0;
  private readonly runTag = randomBytes(3).toString('hex');
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly stack: ChaosStack,
    private readonly plan: LoadPlan,
  ) {}

  get failedAttemptCount(): number {
    return [...this.failedAttempts.values()].reduce((a, b) => a + b, 0);
  }

  /** Resolves when the predicate over the driver's counters holds (checked after every answer). */
  until(predicate: (d: LoadDriver) => boolean): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (predicate(this)) {
          this.listeners.delete(check);
          resolve();
        }
      };
      this.listeners.add(check);
    });
  }

  async run(): Promise<void> {
    // The same plan gives the same mix of documents run after run.
    const rng = mulberry32(this.plan.jobs * 7919 + (this.plan.poisonEvery ?? 0));
    const pdfShare = this.plan.pdfShare ?? 0.15;
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < this.plan.jobs; i++) {
      const due = started + (i * 1000) / this.plan.jobsPerSecond;
      const wait = due - performance.now();
      // Pacing the load is the point of the driver; no condition could stand in for the clock here.
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const poison = this.plan.poisonEvery !== undefined && i % this.plan.poisonEvery === 0;
      const count = poison ? 2 : 1 + Math.floor(rng() * 3);
      const files: FileSpec[] = [];
      for (let d = 0; d < count; d++) {
        const tag = `${this.runTag}-${i}-${d}`;
        files.push(
          await makeDocument(
            rng,
            tag,
            pdfShare,
            poison && d === 1 ? this.stack.embeddings.poisonMarker : undefined,
          ),
        );
      }
      inFlight.push(this.submit(`${this.runTag}-${i}`, files, poison));
    }
    await Promise.all(inFlight);
  }

  private async submit(key: string, files: FileSpec[], poison: boolean): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const form = new FormData();
      for (const f of files) form.append('files', new Blob([Buffer.from(f.bytes)], { type: f.type }), f.name);
      let reason: string;
      try {
        const r = await this.stack.request<{ id: string; code?: string }>('POST', '/v1/documents', {
          form,
          headers: { 'idempotency-key': key },
          timeoutMs: 20_000,
        });
        if (r.status === 202) {
          if (r.headers.get('idempotent-replayed') === 'true') this.replayed++;
          this.accepted.set(r.body.id, {
            id: r.body.id,
            key,
            documents: files.length,
            poison,
            attempts: attempt,
          });
          this.submitted++;
          this.notify();
          return;
        }
        reason = `${r.status} ${r.body?.code ?? ''}`.trim();
        if (!RETRYABLE_STATUS.has(r.status)) {
          this.unexpected.push(`${key}: ${reason}`);
          this.submitted++;
          this.notify();
          return;
        }
      } catch (error) {
        reason = connectionErrorCode(error);
      }
      this.failedAttempts.set(reason, (this.failedAttempts.get(reason) ?? 0) + 1);
      this.notify();
      // The client's own backoff between retries of one upload.
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
    this.unaccepted.push(key);
    this.submitted++;
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function connectionErrorCode(error: unknown): string {
  let current: unknown = error;
  while (current && typeof current === 'object') {
    const e = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (e.name === 'TimeoutError') return 'timeout';
    current = e.cause;
  }
  return error instanceof Error ? error.message : String(error);
}
