import { QuarryError } from '@quarry/contracts';
import { decodeCursor, encodeCursor } from './request-schemas';

describe('job list cursors', () => {
  it('round-trips createdAt and id through an opaque URL-safe string', () => {
    const c = { createdAt: new Date('2025-06-01T12:00:00.123Z'), id: '0194f3b0-0000-7000-8000-000000000001' };
    const raw = encodeCursor(c);
    expect(raw).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(raw)).toEqual(c);
  });

  it.each([
    ['garbage', 'garbage'],
    ['empty', ''],
    ['no id', Buffer.from('2025-06-01T12:00:00.123Z').toString('base64url')],
    ['bad id', Buffer.from('2025-06-01T12:00:00.123Z|nope').toString('base64url')],
    ['bad date', Buffer.from('later|0194f3b0-0000-7000-8000-000000000001').toString('base64url')],
  ])('rejects a cursor with %s as validation_failed', (_name, raw) => {
    expect(() => decodeCursor(raw)).toThrow(QuarryError);
    try {
      decodeCursor(raw);
    } catch (error) {
      expect(QuarryError.is(error, 'validation_failed')).toBe(true);
    }
  });
});
