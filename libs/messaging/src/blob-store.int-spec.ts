import { QuarryError, type Topology } from '@quarry/contracts';
import { TEST_NATS_URL } from '@quarry/test-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsObjectBlobStore } from './blob-store';
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
