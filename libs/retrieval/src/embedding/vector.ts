import { QuarryError } from '@quarry/contracts';

/** Scales `v` to unit length in place and returns it; a zero vector stays zero (it has no direction). */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) / norm;
  return v;
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new QuarryError('internal', `cannot compare vectors of dimension ${a.length} and ${b.length}`);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Shortest decimal that reads back as the same float32, so literals stay compact and lossless. */
function float32ToString(x: number): string {
  for (let precision = 1; precision < 9; precision++) {
    const s = x.toPrecision(precision);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(x);
}

/** The pgvector text literal `[0.1,0.2,...]`, to be bound as a parameter and cast with `::vector`. */
export function toPgVector(v: Float32Array): string {
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] ?? 0;
    // pgvector rejects NaN and infinities; failing here names the cause instead of a SQL error.
    if (!Number.isFinite(x)) {
      throw new QuarryError('embedding_failed', `vector component ${i} is not finite`, { retryable: false });
    }
    parts[i] = float32ToString(x);
  }
  return `[${parts.join(',')}]`;
}

/** Parses pgvector's text output (`[1,2,3]`) back into a vector. */
export function fromPgVector(literal: string): Float32Array {
  const body = literal.trim();
  if (!body.startsWith('[') || !body.endsWith(']')) {
    throw new QuarryError('internal', 'not a pgvector literal');
  }
  const inner = body.slice(1, -1).trim();
  if (inner === '') return new Float32Array(0);
  const values = inner.split(',').map(Number);
  if (values.some((x) => !Number.isFinite(x))) throw new QuarryError('internal', 'not a pgvector literal');
  return Float32Array.from(values);
}
