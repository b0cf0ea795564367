import { QuarryError } from '@quarry/contracts';
import type { EmbeddingProvider } from './provider';
import { l2Normalize } from './vector';

/** FNV-1a, 32-bit: tiny, stable across runs and platforms. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Bag of words hashed into `dim` signed buckets: texts sharing words are close, others near orthogonal. */
export function hashEmbedding(text: string, dim: number): Float32Array {
  const v = new Float32Array(dim);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [''];
  for (const word of words) {
    const h = fnv1a(word);
    const bucket = h % dim;
    // The sign comes from bits the bucket barely uses, so colliding words cancel as often as they add.
    v[bucket] = (v[bucket] ?? 0) + (h & 0x80000000 ? -1 : 1);
  }
  return l2Normalize(v);
}

/**
 * Deterministic stand-in for unit tests of code that embeds: no model, no worker, no network.
 * Records every call so tests can assert batching and inputs.
 */
export class FakeEmbeddingProvider implements EmbeddingProvider {
  readonly id: string;
  readonly dim: number;
  readonly calls: string[][] = [];
  closed = false;

  constructor(options: { dim?: number; id?: string } = {}) {
    this.dim = options.dim ?? 512;
    this.id = options.id ?? `fake-hash-${this.dim}`;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new QuarryError('internal', 'embedding provider is closed'));
    this.calls.push([...texts]);
    return Promise.resolve(texts.map((t) => hashEmbedding(t, this.dim)));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
