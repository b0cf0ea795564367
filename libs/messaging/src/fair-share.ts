/**
 * Which waiting message runs next when a slot frees (issue 11: one tenant's batch must not hold back another
 * tenant's upload). Messages a consumer has pulled but cannot start yet wait here per tenant, first in first out;
 * a freed slot goes to the tenant with the fewest messages running, ties to the one that started least recently
 * (round robin), then to the one waiting longest. It never
 * leaves a slot idle while anything waits, so a tenant alone gets every slot.
 */
export class FairShare<T> {
  private readonly waiting = new Map<string, { item: T; since: number }[]>();
  private readonly running = new Map<string, number>();
  /** When each tenant last started a message, on the `starts` clock; absent: never. */
  private readonly lastStart = new Map<string, number>();
  private arrivals = 0;
  private starts = 0;
  size = 0;

  /** A pulled message that cannot start now. */
  hold(tenant: string, item: T): void {
    const queue = this.waiting.get(tenant) ?? [];
    queue.push({ item, since: this.arrivals++ });
    this.waiting.set(tenant, queue);
    this.size++;
  }

  /** The next message to start in a freed slot, or undefined when none waits. */
  next(): { tenant: string; item: T } | undefined {
    let best: { tenant: string; running: number; last: number; since: number } | undefined;
    for (const [tenant, queue] of this.waiting) {
      const head = queue[0];
      if (!head) continue;
      const c = {
        tenant,
        running: this.running.get(tenant) ?? 0,
        last: this.lastStart.get(tenant) ?? -1,
        since: head.since,
      };
      if (!best || before(c, best)) best = c;
    }
    if (!best) return undefined;
    const queue = this.waiting.get(best.tenant) as { item: T; since: number }[];
    const head = queue.shift() as { item: T; since: number };
    if (queue.length === 0) this.waiting.delete(best.tenant);
    this.size--;
    return { tenant: best.tenant, item: head.item };
  }

  started(tenant: string): void {
    this.running.set(tenant, (this.running.get(tenant) ?? 0) + 1);
    this.lastStart.set(tenant, this.starts++);
    // Only tenants that may come back are remembered; the map stays as small as the set of active tenants.
    if (this.lastStart.size > 10_000) this.forgetIdle();
  }

  private forgetIdle(): void {
    for (const tenant of this.lastStart.keys()) {
      if (!this.running.has(tenant) && !this.waiting.has(tenant)) this.lastStart.delete(tenant);
    }
  }

  finished(tenant: string): void {
    const n = (this.running.get(tenant) ?? 0) - 1;
    if (n > 0) this.running.set(tenant, n);
    else this.running.delete(tenant);
  }

  /** Every waiting message, for heartbeats and for handing them back on shutdown. */
  *items(): IterableIterator<T> {
    for (const queue of this.waiting.values()) for (const w of queue) yield w.item;
  }

  /** Empties the waiting room (shutdown). */
  drain(): T[] {
    const all = [...this.items()];
    this.waiting.clear();
    this.size = 0;
    return all;
  }
}

function before(
  a: { running: number; last: number; since: number },
  b: { running: number; last: number; since: number },
): boolean {
  if (a.running !== b.running) return a.running < b.running;
  if (a.last !== b.last) return a.last < b.last;
  return a.since < b.since;
}
