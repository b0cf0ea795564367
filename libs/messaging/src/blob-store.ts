import { QuarryError } from '@quarry/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
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
 * A transport error, or one wrapping it: JetStream reports a stream without a leader (an election after a node
 * died) as `JetStreamNotEnabled` caused by a no-responders `RequestError`.
 */
export function isTransportError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (TRANSPORT_ERRORS.some((E) => e instanceof E)) return true;
  }
  return false;
}

/**
 * A NATS outage becomes `dependency_unavailable` (503 at the gateway, a retry in a worker) instead of
 * an unknown 500; everything else (a client's broken upload stream among them) passes unchanged.
 */
async function transport<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    if (isTransportError(cause)) {
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

/** Where a blob of a given size goes: see `NatsBlobStore`. */
export interface BlobBuckets {
  /** Object-store bucket for blobs larger than `inlineMaxBytes`: chunked, streamed both ways. */
  objects: string;
  /** Key-value bucket for blobs of at most `inlineMaxBytes`: one message each. */
  small: string;
  /** Default: the largest value that fits the server's max_payload with room for headers. */
  inlineMaxBytes?: number | undefined;
}

/** Room left under max_payload for the message's headers and protocol line. */
const HEADER_ROOM_BYTES = 4096;
/** The limit when the server did not say its max_payload (NATS defaults it to 1 MiB). */
const FALLBACK_INLINE_MAX_BYTES = 512 * 1024;

/**
 * Blobs on JetStream in two tiers. A blob of at most `inlineMaxBytes` (by default as large as one message may be:
 * most uploads, crawled pages and e-mail attachments) is one message in a key-value bucket: one round trip to
 * store, one direct get to read. A larger one goes to the object store, which chunks it and never holds it whole in
 * memory; its protocol costs several round trips (an info lookup, the chunks, the metadata) and a SHA-256 in
 * JavaScript both ways — about 1 ms of CPU for a 1 KB file and 12–18 ms for 550 KB, against 2–4 ms as one
 * message. `put` buffers at most `inlineMaxBytes` of a stream before it knows which tier the blob belongs to, so
 * memory stays bounded. Readers look in the small bucket first.
 */
export class NatsBlobStore implements BlobStore {
  private small: Promise<KV> | undefined;
  private readonly objects: NatsObjectBlobStore;
  private readonly inlineMaxBytes: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly buckets: BlobBuckets,
  ) {
    this.objects = new NatsObjectBlobStore(nc, buckets.objects);
    // A value must fit in one message with its headers; the server refuses larger ones at publish.
    const maxPayload = nc.info?.max_payload;
    const fits = maxPayload === undefined ? FALLBACK_INLINE_MAX_BYTES : maxPayload - HEADER_ROOM_BYTES;
    this.inlineMaxBytes = buckets.inlineMaxBytes ?? fits;
    if (maxPayload !== undefined && this.inlineMaxBytes > fits) {
      throw new Error(
        `BLOB_INLINE_MAX_BYTES (${this.inlineMaxBytes}) must leave room for headers under the NATS server's ` +
          `max_payload (${maxPayload})`,
      );
    }
  }

  private openSmall(): Promise<KV> {
    this.small ??= this.bindSmall().catch((cause: unknown) => {
      this.small = undefined;
      throw new QuarryError('dependency_unavailable', `blob bucket ${this.buckets.small} unavailable`, {
        cause,
      });
    });
    return this.small;
  }

  /**
   * Binds to the bucket with direct get when its stream allows it: a value then comes back as the message itself.
   * `Kvm.open` alone assumes it does not, and every read went through the stream's JSON API instead — the value
   * base64-encoded inside JSON, a third larger on the wire and decoded in JavaScript (a measurable share of a
   * text PDF's ingest).
   */
  private async bindSmall(): Promise<KV> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(`KV_${this.buckets.small}`);
    return new Kvm(this.nc).open(this.buckets.small, { allow_direct: info.config.allow_direct === true });
  }

  async put(key: string, body: ReadableStream<Uint8Array>, meta?: { filename?: string }) {
    const reader = body.getReader();
    const head: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        const kv = await this.openSmall();
        const bytes = concat(head, size);
        await transport(`storing blob ${key}`, () => kv.put(key, bytes));
        return { size };
      }
      head.push(value);
      size += value.byteLength;
      if (size > this.inlineMaxBytes) break;
    }
    // Too large for one message: the object store takes what was read and the rest of the stream.
    const rest = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of head) controller.enqueue(chunk);
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return this.objects.put(key, rest, meta);
  }

  private async smallBlob(key: string): Promise<Uint8Array | undefined> {
    const kv = await this.openSmall();
    const entry = await transport(`reading blob ${key}`, () => kv.get(key));
    return entry && entry.operation === 'PUT' ? entry.value : undefined;
  }

  async getBytes(key: string): Promise<Uint8Array> {
    return (await this.smallBlob(key)) ?? this.objects.getBytes(key);
  }

  async download(key: string, toPath: string): Promise<{ size: number }> {
    const bytes = await this.smallBlob(key);
    if (!bytes) return this.objects.download(key, toPath);
    await writeFile(toPath, bytes);
    return { size: bytes.byteLength };
  }

  async delete(key: string): Promise<void> {
    const kv = await this.openSmall();
    // Purge, not delete: the value goes, only a marker stays.
    await transport(`deleting blob ${key}`, () => kv.purge(key));
    await this.objects.delete(key);
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
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
