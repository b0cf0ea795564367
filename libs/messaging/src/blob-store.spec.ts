import { errors } from '@nats-io/transport-node';
import { isTransportError } from './blob-store';

describe('isTransportError', () => {
  it('sees NATS being away through the errors JetStream wraps it in (a stream without a leader)', () => {
    const noResponders = new errors.RequestError('no responders: $KV.bucket.key');
    class JetStreamNotEnabled extends Error {}
    expect(isTransportError(noResponders)).toBe(true);
    expect(
      isTransportError(new JetStreamNotEnabled('jetstream is not enabled', { cause: noResponders })),
    ).toBe(true);
  });

  it('leaves every other error alone (a broken upload stream is the client’s)', () => {
    expect(isTransportError(new Error('file ended before its part was complete'))).toBe(false);
    expect(isTransportError(new Error('outer', { cause: new TypeError('inner') }))).toBe(false);
    expect(isTransportError('not an error')).toBe(false);
  });
});
