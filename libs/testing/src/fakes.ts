import { writeFile } from 'node:fs/promises';
import { QuarryError } from '@quarry/contracts';
import type {
  BlobStore,
  MessagePublisher,
  OutboxRecord,
  OutboxStore,
  PublishOptions,
} from '@quarry/messaging';
import type { AfterCommit, Committed, FinishedJob, OutboxRow } from '@quarry/persistence';

/** A publisher that records what would have gone to JetStream (for unit tests of handlers). */
export class RecordingPublisher implements MessagePublisher {
  readonly published: { subject: string; payload: unknown; options: PublishOptions }[] = [];

  publish(subject: string, payload: unknown, options: PublishOptions) {
    this.published.push({ subject, payload, options });
    return Promise.resolve({ seq: this.published.length, duplicate: false });
  }
}

/** An outbox store with nothing pending that records which rows were marked sent or failed. */
export class RecordingOutboxStore implements OutboxStore {
  readonly sent: string[][] = [];
  readonly failedIds: string[] = [];

  pending(): Promise<OutboxRecord[]> {
    return Promise.resolve([]);
  }

  markSent(ids: string[]): Promise<void> {
    this.sent.push(ids);
    return Promise.resolve();
  }

  markFailed(id: string): Promise<void> {
    this.failedIds.push(id);
    return Promise.resolve();
  }
}

/**
 * An after-commit port that records what each commit handed it, in order, and publishes nothing: for tests of
 * repositories, and to play a process that died right after its commit (the relay's sweep publishes the rows).
 */
export class RecordingAfterCommit implements AfterCommit {
  readonly commits: Committed[] = [];

  committed(what: Committed): Promise<void> {
    this.commits.push(what);
    return Promise.resolve();
  }

  /** Every row handed over so far. */
  get outbox(): OutboxRow[] {
    return this.commits.flatMap((c) => c.outbox);
  }

  /** Every finished job handed over so far. */
  get finishedJobs(): FinishedJob[] {
    return this.commits.flatMap((c) => c.finishedJobs);
  }
}

/** Blobs in memory, for worker tests: reads are recorded, a missing key is `blob_missing`. */
export class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Uint8Array>();
  readonly reads: string[] = [];

  async put(key: string, body: ReadableStream<Uint8Array>): Promise<{ size: number }> {
    const bytes = new Uint8Array(await new Response(body).arrayBuffer());
    this.blobs.set(key, bytes);
    return { size: bytes.byteLength };
  }

  getBytes(key: string): Promise<Uint8Array> {
    this.reads.push(key);
    const bytes = this.blobs.get(key);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new QuarryError('blob_missing', `no blob ${key}`));
  }

  async download(key: string, toPath: string): Promise<{ size: number }> {
    const bytes = await this.getBytes(key);
    await writeFile(toPath, bytes);
    return { size: bytes.byteLength };
  }

  delete(key: string): Promise<void> {
    this.blobs.delete(key);
    return Promise.resolve();
  }
}
