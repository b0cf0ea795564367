import { createHash, randomBytes } from 'node:crypto';

let lastMs = 0;
let counter = 0;

/**
 * RFC 9562 UUIDv7: time-ordered, so documents sort in upload order by id and B-tree inserts stay
 * local. Monotonic within a process: ids made in the same millisecond carry an increasing 12-bit
 * counter in `rand_a`.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = randomBytes(2).readUInt16BE(0) & 0x3ff; // leave headroom before the counter overflows
  } else {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
  }
  const ms = lastMs;
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | ((counter >> 8) & 0x0f);
  b[7] = counter & 0xff;
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A UUID derived from a name (RFC 9562 version 8 over SHA-256): the same name always gives the same id, so a
 * redelivered message that creates rows (an e-mail's attachments as documents) creates each one once.
 */
export function uuidFromName(name: string): string {
  const b = createHash('sha256').update(name, 'utf8').digest().subarray(0, 16);
  b[6] = 0x80 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
