import { analyse } from 'chardet';
import iconv from 'iconv-lite';

export interface Decoded {
  text: string;
  encoding: string;
}

export interface SniffOptions {
  /** The bytes are a prefix of a longer file, so a multi-byte character may be cut at the end. */
  truncated?: boolean;
  /** Any NUL byte outside UTF-16 means binary (detection); otherwise a few NULs are tolerated. */
  strict?: boolean;
}

// Real text has next to no control characters; random binary has about 12% of them. 1% leaves room for the odd
// BEL or backspace in old logs without letting binary through.
const MAX_BINARY_RATIO = 0.01;
// NULs are judged apart: stray ones occur in otherwise fine text (zero-filled log tails, broken exports) and are
// dropped on decoding, while BOM-less UTF-16 (half NULs) and most binary formats are far above this.
const MAX_NUL_RATIO = 0.1;
// chardet's confidence for single-byte encodings is low even when right (Russian in Windows-1251 scores 27–58),
// so a guess counts when it is high, or plausible and well ahead of the next one. A tie ("café" scores the same
// as Polish and Turkish) falls back to Windows-1252: the likeliest legacy encoding, and it decodes every byte,
// so a wrong guess costs a few wrong accents instead of a failed document.
const CONFIDENT = 50;
const PLAUSIBLE = 20;
const MARGIN = 10;
const FALLBACK_ENCODING = 'windows-1252';
// chardet's statistics settle long before this; analysing a whole large file would only cost time.
const CHARDET_SAMPLE_BYTES = 64 * 1024;

/** Decodes bytes when they look like text, or returns null when they look binary. */
export function tryDecode(bytes: Uint8Array, options: SniffOptions = {}): Decoded | null {
  const bom = sniffBom(bytes);
  if (bom !== null) {
    // In stream mode a cut code unit or surrogate pair at the end is held back instead of becoming U+FFFD.
    const text = new TextDecoder(bom.encoding, { ignoreBOM: true }).decode(bytes.subarray(bom.length), {
      stream: options.truncated === true,
    });
    return binaryRatio(text) > MAX_BINARY_RATIO ? null : { text, encoding: bom.encoding };
  }

  let binary = 0;
  let nul = 0;
  for (const b of bytes) {
    if (b === 0) nul++;
    else if (isBinaryByte(b)) binary++;
  }
  if (nul > 0 && (options.strict === true || nul / bytes.length > MAX_NUL_RATIO)) return null;
  if (binary / bytes.length > MAX_BINARY_RATIO) return null;

  const utf8 = strictUtf8(bytes, options.truncated === true);
  if (utf8 !== null) return { text: utf8, encoding: 'utf-8' };

  const encoding = guessLegacyEncoding(bytes);
  if (encoding !== 'utf-8' && iconv.encodingExists(encoding)) {
    return { text: iconv.decode(bytes, encoding, { stripBOM: false }), encoding };
  }
  // chardet is sure it is UTF-8 with a few broken sequences: keep the text, the broken bytes become U+FFFD.
  return {
    text: new TextDecoder('utf-8').decode(bytes, { stream: options.truncated === true }),
    encoding: 'utf-8',
  };
}

export function sniffBom(
  bytes: Uint8Array,
): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; length: number } | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', length: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', length: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', length: 2 };
  return null;
}

// C0 controls other than tab, LF, VT, FF, CR and ESC (ANSI colours in logs), plus DEL.
function isBinaryByte(b: number): boolean {
  return (b < 0x20 && !(b >= 0x09 && b <= 0x0d) && b !== 0x1b) || b === 0x7f;
}

function binaryRatio(text: string): number {
  if (text.length === 0) return 0;
  let binary = 0;
  for (let i = 0; i < text.length; i++) if (isBinaryByte(text.charCodeAt(i))) binary++;
  return binary / text.length;
}

function strictUtf8(bytes: Uint8Array, truncated: boolean): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: truncated });
  } catch (error) {
    // Checked by code, not `instanceof TypeError`: under Jest the error comes from another realm.
    if ((error as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return null;
    throw error;
  }
}

function guessLegacyEncoding(bytes: Uint8Array): string {
  const candidates = analyse(bytes.subarray(0, CHARDET_SAMPLE_BYTES)).filter(
    (match) => match.name !== 'ASCII',
  );
  const [best, runnerUp] = candidates;
  if (best === undefined) return FALLBACK_ENCODING;
  if (best.name === 'UTF-8') return 'utf-8';
  const clear =
    best.confidence >= CONFIDENT ||
    (best.confidence >= PLAUSIBLE && best.confidence - (runnerUp?.confidence ?? 0) >= MARGIN);
  if (!clear) return FALLBACK_ENCODING;
  // Browsers decode the latin1 label as Windows-1252: its 0x80–0x9F are printable where latin1 has controls.
  const name = best.name === 'ISO-8859-1' ? FALLBACK_ENCODING : best.name.toLowerCase();
  // UTF-16/32 without a BOM would have failed the binary check; chardet's ISO-2022-* are not in iconv-lite.
  return !name.startsWith('utf-') && iconv.encodingExists(name) ? name : FALLBACK_ENCODING;
}
