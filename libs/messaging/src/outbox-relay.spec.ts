import { QuarryMetrics } from '@quarry/telemetry';
import { PromText } from '@quarry/test-kit';
import pino from 'pino';
import { OutboxRelay, type OutboxRecord, type OutboxStore } from './outbox-relay';
import type { MessagePublisher, PublishOptions } from './publisher';

class FakeStore implements OutboxStore {
  rows: (OutboxRecord & { sent: boolean; createdAt: number })[] = [];
  failMarkSent = false;
  failures: string[] = [];
  pending(limit: number, olderThanMs: number) {
    const cutoff = Date.now() - olderThanMs;
    return Promise.resolve(this.rows.filter((r) => !r.sent && r.createdAt <= cutoff).slice(0, limit));
  }
  markSent(ids: string[]) {
    if (this.failMarkSent) return Promise.reject(new Error('database gone'));
    for (const r of this.rows) if (ids.includes(r.id)) r.sent = true;
    return Promise.resolve();
  }
  markFailed(id: string) {
    this.failures.push(id);
    return Promise.resolve();
  }
}

class FakePublisher implements MessagePublisher {
  published: { subject: string; options: PublishOptions }[] = [];
  failFor = new Set<string>();
  publish(subject: string, _payload: unknown, options: PublishOptions) {
    if (this.failFor.has(options.msgId)) return Promise.reject(new Error('nats down'));
    this.published.push({ subject, options });
    return Promise.resolve({ seq: this.published.length, duplicate: false });
  }
}

const row = (id: string, ageMs = 0) => ({
  id,
  subject: `s.${id}`,
  msgId: `m-${id}`,
  payload: { id },
  headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
  sent: false,
  createdAt: Date.now() - ageMs,
});

describe('OutboxRelay', () => {
  const logger = pino({ level: 'silent' });

  it('publishes rows with their message id and traceparent, then marks them sent', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('1'), row('2')];
    await new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 }).publishNow(store.rows);
    expect(publisher.published.map((p) => p.options.msgId)).toEqual(['m-1', 'm-2']);
    expect(publisher.published[0]?.options.traceparent).toMatch(/^00-a{32}/);
    expect(store.rows.every((r) => r.sent)).toBe(true);
  });

  it('records the stream sequence of each published row with it (the stuck-job sweeper checks it)', async () => {
    const marked: { ids: string[]; seqs: number[] | undefined }[] = [];
    const store = new FakeStore();
    store.markSent = (ids: string[], seqs?: number[]) => {
      marked.push({ ids, seqs });
      return Promise.resolve();
    };
    const publisher = new FakePublisher();
    publisher.failFor.add('m-2');
    await new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 }).publishNow([
      row('1'),
      row('2'),
      row('3'),
    ]);
    // The publisher acknowledged m-1 at sequence 1 and m-3 at 2; m-2 failed and stays unsent.
    expect(marked).toEqual([{ ids: ['1', '3'], seqs: [1, 2] }]);
  });

  it('leaves a row whose publish failed for the sweep, and records the failure', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('1'), row('2')];
    publisher.failFor.add('m-1');
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 });
    await relay.publishNow(store.rows);
    expect(store.rows.map((r) => r.sent)).toEqual([false, true]);
    expect(store.failures).toEqual(['1']);

    publisher.failFor.clear();
    expect(await relay.sweep()).toBe(1);
    expect(store.rows.every((r) => r.sent)).toBe(true);
  });

  it('does not throw when marking rows sent fails after the publish (the sweep republishes them)', async () => {
    const store = new FakeStore();
    store.failMarkSent = true;
    store.rows = [row('1')];
    await expect(
      new OutboxRelay(store, new FakePublisher(), logger, { intervalMs: 10, graceMs: 0 }).publishNow(
        store.rows,
      ),
    ).resolves.toBeUndefined();
  });

  it('sweeps only rows older than the grace period, so writers publish their own first', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('old', 5000), row('new', 0)];
    expect(await new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 2000 }).sweep()).toBe(
      1,
    );
    expect(publisher.published.map((p) => p.options.msgId)).toEqual(['m-old']);
  });

  it('counts the rows it published by path: fast after a commit, sweep for rows left behind', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    const metrics = new QuarryMetrics({ app: 'gateway', processMetrics: false });
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0, metrics });
    store.rows = [row('1'), row('2'), row('3')];
    publisher.failFor.add('m-3');

    await relay.publishNow(store.rows);
    publisher.failFor.clear();
    await relay.sweep();

    const scraped = PromText.parse(await metrics.metrics());
    // A failed publish is not counted; the sweep published that row later.
    expect(scraped.sum('quarry_outbox_published_total', { path: 'fast' })).toBe(2);
    expect(scraped.sum('quarry_outbox_published_total', { path: 'sweep' })).toBe(1);
  });
});
