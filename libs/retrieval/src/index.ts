export { chunkPages, type Chunk, type ChunkingOptions, type PageText } from './chunking/chunk-pages';
export { countTokens } from './chunking/tokens';
export type { EmbeddingProvider } from './embedding/provider';
export { LocalUseEmbeddingProvider, type LocalUseEmbeddingOptions } from './embedding/local-use';
export { OpenAiEmbeddingProvider, type OpenAiEmbeddingOptions } from './embedding/openai';
export { createEmbeddingProvider, type EmbeddingConfig } from './embedding/factory';
export { FakeEmbeddingProvider, hashEmbedding } from './embedding/fake';
export { cosineSimilarity, fromPgVector, l2Normalize, toPgVector } from './embedding/vector';
