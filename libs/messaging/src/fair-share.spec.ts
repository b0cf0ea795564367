import { FairShare } from './fair-share';

/** Runs a scheduler the way the consumer does: `slots` at once, each start taken from `next()`. */
function order(share: FairShare<string>, slots: number, finishes: number): string[] {
  const started: string[] = [];
  const running: { tenant: string; item: string }[] = [];
  const fill = () => {
    while (running.length < slots) {
      const n = share.next();
      if (!n) return;
      share.started(n.tenant);
      running.push(n);
      started.push(n.item);
    }
  };
  fill();
  for (let i = 0; i < finishes && running.length > 0; i++) {
    const done = running.shift() as { tenant: string; item: string };
    share.finished(done.tenant);
    fill();
  }
  return started;
}

describe('FairShare', () => {
  it("gives a freed slot to a tenant with nothing running before a busy tenant's backlog", () => {
    const share = new FairShare<string>();
    for (let i = 1; i <= 300; i++) share.hold('A', `A${i}`);
    share.hold('B', 'B1');
    const started = order(share, 2, 3);
    // A takes the first slot (it was first to wait); B, with nothing running, the second, before A's backlog.
    expect(started.slice(0, 3)).toEqual(['A1', 'B1', 'A2']);
  });

  it('never leaves a slot idle: a tenant alone gets all of them, in order', () => {
    const share = new FairShare<string>();
    for (let i = 1; i <= 5; i++) share.hold('A', `A${i}`);
    expect(order(share, 4, 10)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    expect(share.size).toBe(0);
  });

  it('alternates between tenants with equal shares, oldest first', () => {
    const share = new FairShare<string>();
    for (const item of ['A1', 'A2', 'A3', 'B1', 'B2', 'C1']) share.hold(item.slice(0, 1), item);
    expect(order(share, 1, 10)).toEqual(['A1', 'B1', 'C1', 'A2', 'B2', 'A3']);
  });

  it('hands back everything waiting on drain', () => {
    const share = new FairShare<string>();
    share.hold('A', 'A1');
    share.hold('B', 'B1');
    expect([...share.items()].sort()).toEqual(['A1', 'B1']);
    expect(share.drain().sort()).toEqual(['A1', 'B1']);
    expect(share.next()).toBeUndefined();
  });
});
