import { encode } from 'gpt-tokenizer';

// Uploaded text may legitimately contain strings such as `<|endoftext|>`; gpt-tokenizer throws on them
// by default, which would fail a whole document over one literal. They are counted as ordinary text.
const ENCODE_OPTIONS = { disallowedSpecial: new Set<string>() };

/** Token count of `text` in the o200k_base encoding (gpt-tokenizer's default), special tokens as plain text. */
export function countTokens(text: string): number {
  return encode(text, ENCODE_OPTIONS).length;
}
