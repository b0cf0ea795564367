import { randomBytes } from 'node:crypto';

export interface FilePart {
  /** Written into `filename="…"` as UTF-8, byte for byte except `"`, CR and LF, escaped as browsers do. */
  filename: string;
  bytes: Uint8Array;
  /** The client's claimed MIME type; application/octet-stream when absent. */
  type?: string;
  /** Send the name as RFC 5987 `filename*=UTF-8''…` instead of a quoted `filename`. */
  extendedName?: boolean;
  /** Another field than `files`. */
  field?: string;
}

/**
 * A multipart/form-data body built by hand. `FormData` would refuse or rewrite the odd file names the
 * corpus needs (NUL and other control characters, an empty name), and the point is what the gateway
 * does with the bytes a hostile client can put on the wire.
 */
export function multipart(parts: FilePart[]): { body: Buffer; contentType: string } {
  const boundary = `----quarry-corpus-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const name = part.extendedName
      ? `filename*=UTF-8''${encodeURIComponent(part.filename)}`
      : `filename="${part.filename.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}"`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.field ?? 'files'}"; ${name}\r\n` +
          `Content-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`,
        'utf8',
      ),
      Buffer.from(part.bytes),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
