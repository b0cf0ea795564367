import { createHash } from 'node:crypto';
import { assemblePdf, onePageObjects, streamObject } from './raw-pdf';

// Algorithm 3.2's padding string (PDF 1.7, 7.6.3.3).
const PAD = Buffer.from('28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A', 'hex');
const PERMISSIONS = -44;

/**
 * A one-page PDF encrypted with the standard security handler (RC4, 40-bit, revision 2) under a non-empty user
 * password, built by hand because pdf-lib cannot encrypt. The content stream really is encrypted, so a reader
 * that does not know the password cannot open it (pdf.js rejects it with a PasswordException).
 */
export function makeEncryptedPdf(
  text: string,
  userPassword: string,
  ownerPassword = `${userPassword}-owner`,
): Uint8Array {
  const id = md5(Buffer.from(`quarry-test-${text}`));
  const ownerKey = md5(padPassword(ownerPassword)).subarray(0, 5);
  const o = rc4(ownerKey, padPassword(userPassword));
  const p = Buffer.alloc(4);
  p.writeInt32LE(PERMISSIONS);
  const fileKey = md5(Buffer.concat([padPassword(userPassword), o, p, id])).subarray(0, 5);
  const u = rc4(fileKey, PAD);

  const content = Buffer.from(`BT /F1 12 Tf 72 720 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`, 'latin1');
  const encryptedContent = rc4(objectKey(fileKey, 4, 0), content);

  const encryptDictionary = Buffer.from(
    `<< /Filter /Standard /V 1 /R 2 /O <${o.toString('hex')}> /U <${u.toString('hex')}> /P ${PERMISSIONS} >>`,
    'latin1',
  );
  return assemblePdf(
    [...onePageObjects(streamObject(encryptedContent)), encryptDictionary],
    `/Encrypt 6 0 R /ID [<${id.toString('hex')}> <${id.toString('hex')}>] `,
  );
}

function padPassword(password: string): Buffer {
  return Buffer.concat([Buffer.from(password, 'latin1'), PAD]).subarray(0, 32);
}

function objectKey(fileKey: Buffer, objectNumber: number, generation: number): Buffer {
  const suffix = Buffer.from([
    objectNumber & 0xff,
    (objectNumber >> 8) & 0xff,
    (objectNumber >> 16) & 0xff,
    generation & 0xff,
    (generation >> 8) & 0xff,
  ]);
  return md5(Buffer.concat([fileKey, suffix])).subarray(0, Math.min(fileKey.length + 5, 16));
}

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = Array.from({ length: 256 }, (_, i) => i);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + (s[i] ?? 0) + (key[i % key.length] ?? 0)) & 0xff;
    [s[i], s[j]] = [s[j] ?? 0, s[i] ?? 0];
  }
  const out = Buffer.alloc(data.length);
  let i = 0;
  j = 0;
  for (let n = 0; n < data.length; n++) {
    i = (i + 1) & 0xff;
    j = (j + (s[i] ?? 0)) & 0xff;
    [s[i], s[j]] = [s[j] ?? 0, s[i] ?? 0];
    out[n] = (data[n] ?? 0) ^ (s[((s[i] ?? 0) + (s[j] ?? 0)) & 0xff] ?? 0);
  }
  return out;
}
