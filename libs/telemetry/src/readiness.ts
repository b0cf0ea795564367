/** A readiness check resolves when its dependency is usable and rejects (or times out) when not. */
export type ReadinessCheck = () => Promise<unknown>;

export interface ReadinessReport {
  ready: boolean;
  /** `ok`, or why the check failed. */
  checks: Record<string, string>;
}

/**
 * The checks `/readyz` runs. Libraries add their own (messaging adds NATS), so the worker's ops
 * server needs to know none of them.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async check(timeoutMs = 2000): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await outcome(check, timeoutMs)] as const),
    );
    return { ready: entries.every(([, r]) => r === 'ok'), checks: Object.fromEntries(entries) };
  }
}

async function outcome(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
    ]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}
