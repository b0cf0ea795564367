import { QuarryError } from '@quarry/contracts';
import { LocalUseEmbeddingProvider } from './local-use';
import { OpenAiEmbeddingProvider } from './openai';
import type { EmbeddingProvider } from './provider';

/** Shaped so the `embedding` section of the service configuration can be passed as it is. */
export interface EmbeddingConfig {
  provider: 'local' | 'openai';
  batchSize: number;
  /** Worker threads of the local model (default 1). */
  threads?: number;
  /** Per request to an OpenAI-compatible server, unless `openai.timeoutMs` is given. */
  timeoutMs?: number;
  openai?: {
    baseUrl: string;
    apiKey?: string | undefined;
    model: string;
    dim: number;
    timeoutMs?: number;
  };
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** What the caller wants to hear from the provider: tokens a remote model counted (metrics, accounting). */
export interface EmbeddingHooks {
  onTokens?: (tokens: number) => void;
}

export async function createEmbeddingProvider(
  config: EmbeddingConfig,
  hooks: EmbeddingHooks = {},
): Promise<EmbeddingProvider> {
  switch (config.provider) {
    case 'local':
      return LocalUseEmbeddingProvider.create({
        batchSize: config.batchSize,
        ...(config.threads ? { threads: config.threads } : {}),
      });
    case 'openai': {
      const { openai } = config;
      if (openai === undefined) {
        throw new QuarryError('validation_failed', "embedding provider 'openai' needs its openai settings");
      }
      return Promise.resolve(
        new OpenAiEmbeddingProvider({
          baseUrl: openai.baseUrl,
          apiKey: openai.apiKey,
          model: openai.model,
          dim: openai.dim,
          batchSize: config.batchSize,
          timeoutMs: openai.timeoutMs ?? config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          ...(hooks.onTokens ? { onTokens: hooks.onTokens } : {}),
        }),
      );
    }
    default:
      throw new QuarryError('validation_failed', `unknown embedding provider ${String(config.provider)}`);
  }
}
