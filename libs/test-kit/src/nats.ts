import { randomBytes } from 'node:crypto';

export const TEST_NATS_URL = process.env['QUARRY_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A namespace of its own (`qt_<label>_<random>`), so suites never consume each other's messages. */
export function testNamespaceName(label = 't'): string {
  return `qt_${label.replace(/[^a-z0-9]/g, '').slice(0, 10)}_${randomBytes(4).toString('hex')}`;
}
