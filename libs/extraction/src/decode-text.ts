import { QuarryError } from '@quarry/contracts';
import { tryDecode } from './charset';

export interface DecodedText {
  text: string;
  /** WHATWG-style lower-case label of the encoding used, e.g. `utf-8`, `utf-16le`, `windows-1252`. */
  encoding: string;
}

/**
 * Decodes a text document: a BOM wins, then strict UTF-8, then chardet's guess through iconv-lite.
 * Line endings become LF and NULs are dropped so downstream chunking and PostgreSQL (which rejects NUL in text) agree.
 */
export function decodeText(bytes: Uint8Array): DecodedText {
  const decoded = tryDecode(bytes);
  if (decoded === null) {
    throw new QuarryError('undecodable_text', 'The document does not decode as text in any known encoding', {
      details: { bytes: bytes.length },
    });
  }
  return { text: normaliseText(decoded.text), encoding: decoded.encoding };
}

export function normaliseText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\0/g, '');
}
