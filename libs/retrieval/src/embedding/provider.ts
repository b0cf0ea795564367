/**
 * Turns texts into vectors. `id` and `dim` are stored with every vector, so vectors of different models
 * are never compared. Vectors come back L2-normalised, in the order of `texts`.
 */
export interface EmbeddingProvider {
  readonly id: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export function* batches<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
