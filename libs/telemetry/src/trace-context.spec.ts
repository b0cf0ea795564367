import { currentOrNewTraceparent, parseTraceparent } from './trace-context';

describe('trace context', () => {
  it('makes valid W3C traceparents that parse back', () => {
    const tp = currentOrNewTraceparent();
    const ids = parseTraceparent(tp);
    expect(ids?.traceId).toHaveLength(32);
    expect(ids?.spanId).toHaveLength(16);
    expect(currentOrNewTraceparent()).not.toBe(tp);
  });

  it('rejects malformed and all-zero ids', () => {
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});
