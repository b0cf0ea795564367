import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DocumentClassification, UploadClassification } from '@quarry/contracts';
import { classifyByEmbedding, type EmbeddingProvider } from '@quarry/retrieval';
import { EMBEDDING_PROVIDER } from '../embeddings';
import { LlmAnalyzers } from './llm-analyzers';

/** Label sets whose vectors are kept: an upload of many files asks with the same labels for each of them. */
const CACHED_LABEL_SETS = 32;

/**
 * Classify on upload (ADR 28): a document's label scores from its chunk vectors as indexing computed them (their mean,
 * against each label's embedded name and description), so scoring costs one embedding of the labels per upload. With
 * a language model configured (ADR 29) the labels and a reason come from the model reading the document's text.
 */
@Injectable()
export class UploadLabeler {
  private readonly labelVectors = new Map<string, Promise<Float32Array[]>>();

  constructor(
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
    // Absent where no model can be (unit tests of indexing): classification is by embeddings alone.
    @Optional() private readonly llm?: LlmAnalyzers,
  ) {}

  async classify(
    request: UploadClassification,
    chunkVectors: readonly Float32Array[],
    text: string,
    signal: AbortSignal,
  ): Promise<DocumentClassification> {
    if (chunkVectors.length === 0) return { method: 'embedding', labels: [], scores: [] };
    const vectors = await this.vectorsOf(request);
    const mean = new Float32Array(this.embeddings.dim);
    for (const v of chunkVectors)
      for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] ?? 0) + (v[i] ?? 0);
    const { labels, scores } = classifyByEmbedding(
      mean,
      request.labels.map((l, i) => ({
        name: l.name,
        vector: vectors[i] ?? new Float32Array(this.embeddings.dim),
      })),
      request.multiLabel,
    );
    return this.llm?.available
      ? this.llm.classifyUpload(request, text, scores, signal)
      : { method: 'embedding', labels, scores };
  }

  private vectorsOf(request: UploadClassification): Promise<Float32Array[]> {
    const texts = request.labels.map((l) => (l.description ? `${l.name}: ${l.description}` : l.name));
    const key = JSON.stringify(texts);
    let vectors = this.labelVectors.get(key);
    if (!vectors) {
      if (this.labelVectors.size >= CACHED_LABEL_SETS) this.labelVectors.clear();
      vectors = this.embeddings.embed(texts);
      // A failed embedding is not kept: the next document asks again.
      vectors.catch(() => this.labelVectors.delete(key));
      this.labelVectors.set(key, vectors);
    }
    return vectors;
  }
}
