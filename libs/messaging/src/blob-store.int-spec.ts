import { QuarryError, type Topology } from '@quarry/contracts';
import { TEST_NATS_URL } from '@quarry/test-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsBlobStore, NatsObjectBlobStore } from './blob-store';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { provisionTestJetStream, type TestJetStream } from './__fixtures__/jetstream';

const bytes = (s: string) => new TextEncoder().encode(s);
const streamOf = (chunks: Uint8Array[], error?: Error) =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else if (error) controller.error(error);
      else controller.close();
    },
  });

describe('NatsObjectBlobStore on real JetStream', () => {
  let t: Topology;
  let nc: NatsConnection;
  let jetStream: TestJetStream;

  beforeAll(async () => {
    jetStream = await provisionTestJetStream('blobs', {
      duplicateWindowMs: 60_000,
      eventsMaxAgeMs: 60_000,
      dlqMaxAgeMs: 60_000,
      maxAckPending: { ingestDocument: 4, indexDocument: 4 },
    });
    ({ nc, t } = jetStream);
  });

  afterAll(async () => {
    await jetStream.remove();
  });

  it('stores, reads and deletes bytes', async () => {
    const store = new NatsObjectBlobStore(nc, t.blobBucket);
    await expect(store.put('a/1', streamOf([bytes('hello '), bytes('world')]))).resolves.toEqual({
      size: 11,
    });
    expect(new TextDecoder().decode(await store.getBytes('a/1'))).toBe('hello world');
    await store.delete('a/1');
    await expect(store.getBytes('a/1')).rejects.toMatchObject({ code: 'blob_missing' });
  });

  it('reports NATS being away as dependency_unavailable (a 503 and a retry), not an unknown error', async () => {
    const own = await connect({ servers: TEST_NATS_URL });
    const store = new NatsObjectBlobStore(own, t.blobBucket);
    await store.put('b/1', streamOf([bytes('x')]));
    await own.close();
    for (const attempt of [
      () => store.put('b/2', streamOf([bytes('y')])),
      () => store.getBytes('b/1'),
      () => store.delete('b/1'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuarryError);
      expect(error).toMatchObject({ code: 'dependency_unavailable', retryable: true });
    }
  });

  it("passes the upload stream's own error through unchanged", async () => {
    const store = new NatsObjectBlobStore(nc, t.blobBucket);
    const cut = new QuarryError('validation_failed', 'file ended before its part was complete');
    await expect(store.put('c/1', streamOf([bytes('partial')], cut))).rejects.toBe(cut);
  });
});

describe('NatsBlobStore: small blobs as one message, large ones in the object store', () => {
  let t: Topology;
  let nc: NatsConnection;
  let jetStream: TestJetStream;
  let dir: string;

  beforeAll(async () => {
    jetStream = await provisionTestJetStream('tiers', {
      duplicateWindowMs: 60_000,
      eventsMaxAgeMs: 60_000,
      dlqMaxAgeMs: 60_000,
      maxAckPending: { ingestDocument: 4, indexDocument: 4 },
    });
    ({ nc, t } = jetStream);
    dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-blobs-'));
  });

  afterAll(async () => {
    await jetStream.remove();
    await rm(dir, { recursive: true, force: true });
  });

  const store = () =>
    new NatsBlobStore(nc, { objects: t.blobBucket, small: t.smallBlobBucket, inlineMaxBytes: 1024 });
  const objects = () => new NatsObjectBlobStore(nc, t.blobBucket);
  const tierOf = async (key: string) => {
    const inObjects = await objects()
      .getBytes(key)
      .then(() => true)
      .catch(() => false);
    return inObjects ? 'objects' : 'small';
  };

  it('keeps a blob up to the limit in the small bucket and a larger one in the object store, both readable', async () => {
    const small = new Uint8Array(1024).fill(7);
    const large = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
    // Chunks that cross the limit mid-way: the part read before the decision is not lost.
    await expect(
      store().put('t/small', streamOf([small.subarray(0, 600), small.subarray(600)])),
    ).resolves.toEqual({
      size: 1024,
    });
    await expect(
      store().put(
        't/large',
        streamOf([large.subarray(0, 1000), large.subarray(1000, 1100), large.subarray(1100)]),
      ),
    ).resolves.toEqual({ size: 5000 });
    expect(await tierOf('t/small')).toBe('small');
    expect(await tierOf('t/large')).toBe('objects');
    expect(await store().getBytes('t/small')).toEqual(small);
    expect(await store().getBytes('t/large')).toEqual(large);
    for (const [key, bytes] of [
      ['t/small', small],
      ['t/large', large],
    ] as const) {
      const file = path.join(dir, key.replace('/', '_'));
      await expect(store().download(key, file)).resolves.toEqual({ size: bytes.byteLength });
      expect(new Uint8Array(await readFile(file))).toEqual(bytes);
    }
  });

  it('deletes from either tier; a deleted blob is missing', async () => {
    await store().put('d/small', streamOf([bytes('tiny')]));
    await store().put('d/large', streamOf([new Uint8Array(4096)]));
    await store().delete('d/small');
    await store().delete('d/large');
    await store().delete('d/never-stored');
    for (const key of ['d/small', 'd/large']) {
      await expect(store().getBytes(key)).rejects.toMatchObject({ code: 'blob_missing' });
    }
  });

  it("passes a stream's own error through unchanged, before and after the tier is chosen", async () => {
    const cut = new QuarryError('validation_failed', 'file ended before its part was complete');
    await expect(store().put('e/1', streamOf([bytes('partial')], cut))).rejects.toBe(cut);
    await expect(store().put('e/2', streamOf([new Uint8Array(2048)], cut))).rejects.toBe(cut);
    await expect(store().getBytes('e/1')).rejects.toMatchObject({ code: 'blob_missing' });
  });

  it('reads a small blob by direct get, not through the JSON stream API (base64 inside JSON)', async () => {
    await store().put('g/1', streamOf([bytes('direct')]));
    const watcher = await connect({ servers: TEST_NATS_URL });
    try {
      const requests: string[] = [];
      const stream = `KV_${t.smallBlobBucket}`;
      for (const subject of ['$JS.API.DIRECT.GET.>', '$JS.API.STREAM.MSG.GET.>']) {
        watcher.subscribe(subject, {
          callback: (_error, msg) => {
            if (msg.subject.includes(stream))
              requests.push(msg.subject.startsWith('$JS.API.DIRECT') ? 'direct' : 'json');
          },
        });
      }
      await watcher.flush();
      expect(new TextDecoder().decode(await store().getBytes('g/1'))).toBe('direct');
      await watcher.flush();
      expect(requests).toEqual(['direct']);
    } finally {
      await watcher.close();
    }
  });

  it('by default keeps in one message every blob that fits under the server max_payload', async () => {
    const fits = (nc.info?.max_payload ?? 0) - 4096;
    expect(fits).toBeGreaterThan(512 * 1024);
    const byDefault = new NatsBlobStore(nc, { objects: t.blobBucket, small: t.smallBlobBucket });
    await byDefault.put('h/fits', streamOf([new Uint8Array(fits).fill(1)]));
    await byDefault.put('h/over', streamOf([new Uint8Array(fits + 1).fill(2)]));
    expect(await tierOf('h/fits')).toBe('small');
    expect(await tierOf('h/over')).toBe('objects');
    expect((await byDefault.getBytes('h/fits')).byteLength).toBe(fits);
  });

  it('refuses at construction a limit that cannot fit in one NATS message', () => {
    const max = nc.info?.max_payload ?? 1024 * 1024;
    expect(
      () => new NatsBlobStore(nc, { objects: t.blobBucket, small: t.smallBlobBucket, inlineMaxBytes: max }),
    ).toThrow(/max_payload/);
  });
});
