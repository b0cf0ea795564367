import { QuarryError } from '@quarry/contracts';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';

/** Where uploaded bytes live. Messages and rows carry the key and the sha256, never the bytes. */
export interface BlobStore {
  put(key: string, body: ReadableStream<Uint8Array>, meta?: { filename?: string }): Promise<{ size: number }>;
  getBytes(key: string): Promise<Uint8Array>;
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
    const info = await os.put(
      { name: key, ...(meta?.filename ? { description: meta.filename.slice(0, 200) } : {}) },
      body,
    );
    return { size: info.size };
  }

  async getBytes(key: string): Promise<Uint8Array> {
    const os = await this.open();
    const bytes = await os.getBlob(key);
    if (!bytes) throw new QuarryError('blob_missing', `blob ${key} is not in bucket ${this.bucket}`);
    return bytes;
  }

  async delete(key: string): Promise<void> {
    const os = await this.open();
    await os.delete(key);
  }
}
