import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { EmbeddingProvider } from '@quarry/retrieval';

export const EMBEDDING_PROVIDER = Symbol('EMBEDDING_PROVIDER');

/** Closes the provider's worker thread (or HTTP agent) on shutdown. */
@Injectable()
export class EmbeddingLifecycle implements OnApplicationShutdown {
  constructor(@Inject(EMBEDDING_PROVIDER) private readonly provider: EmbeddingProvider) {}
  async onApplicationShutdown(): Promise<void> {
    await this.provider.close();
  }
}
