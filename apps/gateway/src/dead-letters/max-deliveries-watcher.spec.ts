import { topology } from '@quarry/contracts';
import {
  QuarryHeaders,
  type MessagePublisher,
  type PublishOptions,
  type StoredCommand,
  type WorkQueue,
} from '@quarry/messaging';
import pino from 'pino';
import { MaxDeliveriesWatcher } from './max-deliveries-watcher';

const t = topology('quarry');
const body = new TextEncoder().encode('{"v":1}');

function setup(stored: StoredCommand | null, publishFails = false) {
  const published: { subject: string; payload: unknown; options: PublishOptions }[] = [];
  const removed: number[] = [];
  const publisher: MessagePublisher = {
    publish: (subject, payload, options) => {
      if (publishFails) return Promise.reject(new Error('nats down'));
      published.push({ subject, payload, options });
      return Promise.resolve({ seq: 1, duplicate: false });
    },
  };
  const queue: Pick<WorkQueue, 'get' | 'remove'> = {
    get: (seq) => Promise.resolve(stored?.seq === seq ? stored : null),
    remove: (seq) => Promise.resolve(void removed.push(seq)),
  };
  const watcher = new MaxDeliveriesWatcher(t, queue, publisher, pino({ level: 'silent' }));
  return { watcher, published, removed };
}

const stranded = (subject: string, headers: Record<string, string>): StoredCommand => ({
  subject,
  seq: 12,
  data: body,
  header: (n) => headers[n],
});

describe('MaxDeliveriesWatcher.rescue', () => {
  it('moves a stranded message to its command DLQ subject with the consumer id scheme, then removes it', async () => {
    const { watcher, published, removed } = setup(
      stranded(t.commandSubject('indexDocument', 'bulk'), {
        'Nats-Msg-Id': 'j:indexDocument:d:0',
        traceparent: 'tp',
      }),
    );
    const outcome = await watcher.rescue({
      stream: t.jobsStream,
      consumer: t.consumerName('indexDocument', 'bulk'),
      stream_seq: 12,
      deliveries: 6,
    });
    expect(outcome).toBe('dead_lettered');
    expect(published).toHaveLength(1);
    expect(published[0]?.subject).toBe(t.dlqSubject('indexDocument'));
    expect(published[0]?.payload).toBe(body);
    expect(published[0]?.options).toMatchObject({
      msgId: 'dlq:j:indexDocument:d:0',
      traceparent: 'tp',
      headers: {
        [QuarryHeaders.dlqCode]: 'delivery_exhausted',
        [QuarryHeaders.originSubject]: t.commandSubject('indexDocument', 'bulk'),
        [QuarryHeaders.originMsgId]: 'j:indexDocument:d:0',
        [QuarryHeaders.deliveryCount]: '6',
      },
    });
    expect(published[0]?.options.headers?.[QuarryHeaders.dlqReason]).toMatch(
      /worker died or stalled on its last/,
    );
    expect(removed).toEqual([12]);
  });

  it('names a message without Nats-Msg-Id by its stream sequence', async () => {
    const { watcher, published } = setup(stranded(t.commandSubject('ingestDocument'), {}));
    await watcher.rescue({
      stream: t.jobsStream,
      consumer: t.consumerName('ingestDocument'),
      stream_seq: 12,
      deliveries: 4,
    });
    expect(published[0]?.options.msgId).toBe('dlq:seq-12');
  });

  it('does nothing for a message already gone, or for a consumer or stream that is not this namespace', async () => {
    const { watcher, published, removed } = setup(stranded(t.commandSubject('ingestDocument'), {}));
    const gone = await watcher.rescue({
      stream: t.jobsStream,
      consumer: t.consumerName('ingestDocument'),
      stream_seq: 99,
      deliveries: 4,
    });
    const foreign = await watcher.rescue({
      stream: t.jobsStream,
      consumer: 'someone_else',
      stream_seq: 12,
      deliveries: 4,
    });
    const otherStream = await watcher.rescue({
      stream: 'OTHER_JOBS',
      consumer: t.consumerName('ingestDocument'),
      stream_seq: 12,
      deliveries: 4,
    });
    expect([gone, foreign, otherStream]).toEqual(['gone', 'not_ours', 'not_ours']);
    expect(published).toHaveLength(0);
    expect(removed).toHaveLength(0);
  });

  it('keeps the message in the work queue when the dead letter cannot be published', async () => {
    const { watcher, removed } = setup(stranded(t.commandSubject('ingestDocument'), {}), true);
    await expect(
      watcher.rescue({
        stream: t.jobsStream,
        consumer: t.consumerName('ingestDocument'),
        stream_seq: 12,
        deliveries: 4,
      }),
    ).rejects.toThrow('nats down');
    expect(removed).toHaveLength(0);
  });
});
