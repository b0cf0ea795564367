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

/** What a commit that wrote `rows` and ended no job hands the relay. */
const wrote = (rows: OutboxRecord[]) => ({ outbox: rows, finishedJobs: [] });

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

  it('publishes the rows a commit wrote with their message id and traceparent, then marks them sent', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('1'), row('2')];
    await new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 }).committed(
      wrote(store.rows),
    );
    expect(publisher.published.map((p) => p.options.msgId)).toEqual(['m-1', 'm-2']);
    expect(publisher.published[0]?.options.traceparent).toMatch(/^00-a{32}/);
    expect(store.rows.every((r) => r.sent)).toBe(true);
  });

  it('returns once the messages are out, without waiting for their rows to be marked; stop() waits for the marks', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('1')];
    let release: (() => void) | undefined;
    const markSent = store.markSent.bind(store);
    store.markSent = (ids: string[]) =>
      new Promise<void>((resolve) => (release = resolve)).then(() => markSent(ids));
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 });
    await relay.committed(wrote(store.rows));
    expect(publisher.published).toHaveLength(1);
    expect(store.rows[0]?.sent).toBe(false);
    const stopped = relay.stop();
    release?.();
    await stopped;
    expect(store.rows[0]?.sent).toBe(true);
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
    await new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 }).committed(
      wrote([row('1'), row('2'), row('3')]),
    );
    // The publisher acknowledged m-1 at sequence 1 and m-3 at 2; m-2 failed and stays unsent.
    expect(marked).toEqual([{ ids: ['1', '3'], seqs: [1, 2] }]);
  });

  it('leaves a row whose publish failed for the sweep, and records the failure', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    store.rows = [row('1'), row('2')];
    publisher.failFor.add('m-1');
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 });
    await relay.committed(wrote(store.rows));
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
      new OutboxRelay(store, new FakePublisher(), logger, { intervalMs: 10, graceMs: 0 }).committed(
        wrote(store.rows),
      ),
    ).resolves.toBeUndefined();
  });

  it('never rejects, even when the publisher throws instead of rejecting (the commit is done)', async () => {
    const store = new FakeStore();
    store.rows = [row('1')];
    const publisher: MessagePublisher = {
      publish: () => {
        throw new Error('not connected');
      },
    };
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0 });
    await expect(relay.committed(wrote(store.rows))).resolves.toBeUndefined();
    expect(store.rows[0]?.sent).toBe(false);
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

    await relay.committed(wrote(store.rows));
    publisher.failFor.clear();
    await relay.sweep();

    const scraped = PromText.parse(await metrics.metrics());
    // A failed publish is not counted; the sweep published that row later.
    expect(scraped.sum('quarry_outbox_published_total', { path: 'fast' })).toBe(2);
    expect(scraped.sum('quarry_outbox_published_total', { path: 'sweep' })).toBe(1);
  });

  it('counts each job a commit ended, with the time since it was accepted, in the process that ended it', async () => {
    const store = new FakeStore();
    const publisher = new FakePublisher();
    const metrics = new QuarryMetrics({ app: 'analysis-worker', processMetrics: false });
    const relay = new OutboxRelay(store, publisher, logger, { intervalMs: 10, graceMs: 0, metrics });
    const createdAt = new Date('2026-01-01T00:00:00Z');
    const job = (status: string, seconds: number) => ({
      type: 'ingest',
      status,
      createdAt,
      finishedAt: new Date(createdAt.getTime() + seconds * 1000),
    });

    await relay.committed({ outbox: [row('1')], finishedJobs: [job('succeeded', 1.5)] });
    // A batch of completions ends several jobs in one commit.
    await relay.committed({
      outbox: [row('2'), row('3')],
      finishedJobs: [job('succeeded', 2), job('completed_with_failures', 4)],
    });
    // A commit that ended no job counts none.
    await relay.committed(wrote([row('4')]));

    const scraped = PromText.parse(await metrics.metrics());
    const succeeded = { type: 'ingest', status: 'succeeded' };
    expect(scraped.sum('quarry_jobs_finished_total', succeeded)).toBe(2);
    expect(scraped.sum('quarry_jobs_finished_total')).toBe(3);
    expect(scraped.sum('quarry_job_duration_seconds_count', succeeded)).toBe(2);
    expect(scraped.sum('quarry_job_duration_seconds_sum', succeeded)).toBe(3.5);
    expect(scraped.sum('quarry_job_duration_seconds_bucket', { ...succeeded, le: '1' })).toBe(0);
    expect(scraped.sum('quarry_job_duration_seconds_bucket', { ...succeeded, le: '2.5' })).toBe(2);
    expect(scraped.sum('quarry_outbox_published_total', { path: 'fast' })).toBe(4);
    expect(publisher.published.map((p) => p.options.msgId)).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
  });
});
