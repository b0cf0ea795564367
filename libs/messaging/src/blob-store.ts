import { QuarryError } from '@quarry/contracts';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What NATS throws while the server is away (restarting, a leader election): worth a retry. */
const TRANSPORT_ERRORS = [
  errors.TimeoutError,
  errors.ConnectionError,
  errors.ClosedConnectionError,
  errors.DrainingConnectionError,
  errors.NoRespondersError,
  errors.RequestError,
];

/**
 * A NATS outage becomes `dependency_unavailable` (503 at the gateway, a retry in a worker) instead of
 * an unknown 500; everything else (a client's broken upload stream among them) passes unchanged.
 */
async function transport<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    if (TRANSPORT_ERRORS.some((E) => cause instanceof E)) {
      throw new QuarryError('dependency_unavailable', `${what}: NATS unavailable`, { cause });
    }
    throw cause;
  }
}

/** Where uploaded bytes live. Messages and rows carry the key and the sha256, never the bytes. */
export interface BlobStore {
  put(key: string, body: ReadableStream<Uint8Array>, meta?: { filename?: string }): Promise<{ size: number }>;
  getBytes(key: string): Promise<Uint8Array>;
  /** Streams the blob into a file, so a large document never sits whole in a worker's memory. */
  download(key: string, toPath: string): Promise<{ size: number }>;
  delete(key: string): Promise<void>;
}

export class NatsObjectBlobStore implements BlobStore {
  private store: Promise<ObjectStore> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
  ) {}

  private open(): Promise<ObjectStore> {
    this.store ??= new Objm(this.nc).open(this.bucket).catch((cause: unknown) => {
      this.store = undefined;
      throw new QuarryError('dependency_unavailable', `object store bucket ${this.bucket} unavailable`, {
        cause,
      });
    });
    return this.store;
  }

  async put(key: string, body: ReadableStream<Uint8Array>, meta?: { filename?: string }) {
    const os = await this.open();
    const info = await transport(`storing blob ${key}`, () =>
      os.put({ name: key, ...(meta?.filename ? { description: meta.filename.slice(0, 200) } : {}) }, body),
    );
    return { size: info.size };
  }

  async getBytes(key: string): Promise<Uint8Array> {
    const os = await this.open();
    const bytes = await transport(`reading blob ${key}`, () => os.getBlob(key));
    if (!bytes) throw new QuarryError('blob_missing', `blob ${key} is not in bucket ${this.bucket}`);
    return bytes;
  }

  async download(key: string, toPath: string): Promise<{ size: number }> {
    const os = await this.open();
    const result = await transport(`reading blob ${key}`, () => os.get(key));
    if (!result) throw new QuarryError('blob_missing', `blob ${key} is not in bucket ${this.bucket}`);
    let size = 0;
    const counter = new Transform({
      transform(chunk: Uint8Array, _enc, done) {
        size += chunk.byteLength;
        done(null, chunk);
      },
    });
    await transport(`reading blob ${key}`, async () => {
      await pipeline(Readable.fromWeb(result.data), counter, createWriteStream(toPath));
      // The object store checks the digest only at the end of the stream and reports a mismatch here.
      const error = await result.error;
      if (error) throw error;
    });
    return { size };
  }

  async delete(key: string): Promise<void> {
    const os = await this.open();
    await transport(`deleting blob ${key}`, () => os.delete(key));
  }
}
