import type { MessagePublisher, OutboxRecord, OutboxStore, PublishOptions } from '@quarry/messaging';

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
