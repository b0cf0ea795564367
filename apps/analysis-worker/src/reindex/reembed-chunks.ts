import { Inject, Injectable } from '@nestjs/common';
import { QuarryError, type ReindexInput, type ReindexResult } from '@quarry/contracts';
import { AnalysesRepository } from '@quarry/persistence';
import type { EmbeddingProvider } from '@quarry/retrieval';
import { EMBEDDING_PROVIDER } from '../embeddings';
import { stopped, type AnalysisRun } from '../analyses/sources';

/** Documents listed per query: the list is read again after each page, so it never holds a tenant's whole corpus. */
const PAGE = 200;

/** What a moved document keeps as the job's item. */
interface MovedItem {
  chunks: number;
  fromModels: string[];
}

/**
 * A re-embed job (`POST /v1/reindex`): every chunk of the tenant stored under another model is embedded again from
 * its stored text with the model this worker runs, and moved to it in place, a document per transaction — nothing is
 * parsed again, and pages, offsets and ids stay. Until a document is moved, search (which uses the workers' model
 * alone) does not see it: models are never mixed. Documents already moved are not in the list a redelivery reads,
 * so a killed job goes on from where it was.
 */
@Injectable()
export class ReembedChunks {
  constructor(
    private readonly analyses: AnalysesRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
  ) {}

  async run(input: ReindexInput, run: AnalysisRun): Promise<ReindexResult> {
    const model = { id: this.embeddings.id, dim: this.embeddings.dim };
    if (input.model !== model.id) {
      throw new QuarryError(
        'validation_failed',
        `the job asks for model ${input.model}, and this worker embeds with ${model.id}: configure the workers with ` +
          'that model first (EMBEDDING_PROVIDER, EMBEDDING_MODEL)',
      );
    }
    const earlier = (await this.analyses.items(run.jobId)) as Map<string, MovedItem>;
    let pending = await this.analyses.documentsNotUnder(run.tenantId, model.id, PAGE);
    // Documents still to move now, plus the ones earlier deliveries moved: a total that stays put while it runs.
    let total =
      earlier.size +
      (pending.length < PAGE
        ? pending.length
        : await this.analyses.countDocumentsNotUnder(run.tenantId, model.id));
    let done = earlier.size;
    await run.progress({ step: 'embedding', done, total });
    while (pending.length > 0) {
      for (const doc of pending) {
        if (run.signal.aborted) throw stopped();
        if (!(await this.analyses.isActive(run.jobId))) {
          throw new QuarryError('conflict', 'the job was cancelled while chunks were being embedded again');
        }
        const chunks = await this.analyses.chunksNotUnder(run.tenantId, doc.id, model.id);
        const vectors = await this.embeddings.embed(chunks.map((c) => c.text));
        if (vectors.length !== chunks.length) {
          throw new QuarryError(
            'embedding_failed',
            `provider returned ${vectors.length} vectors for ${chunks.length} texts`,
          );
        }
        done += 1;
        total = Math.max(total, done);
        const moved = await this.analyses.moveChunks(
          run.tenantId,
          run.jobId,
          model,
          chunks.map((c, i) => ({ id: c.id, embedding: vectors[i] ?? new Float32Array(model.dim) })),
          { key: doc.id, output: { fromModels: [...new Set(chunks.map((c) => c.model))] } },
          { step: 'embedding', done, total, details: doc.filename },
        );
        earlier.set(doc.id, { chunks: moved, fromModels: [...new Set(chunks.map((c) => c.model))] });
        run.working();
      }
      pending = await this.analyses.documentsNotUnder(run.tenantId, model.id, PAGE);
    }
    const items = [...earlier.values()];
    return {
      type: 'reindex',
      model: model.id,
      fromModels: [...new Set(items.flatMap((i) => i.fromModels))].sort(),
      documents: items.length,
      chunks: items.reduce((n, i) => n + i.chunks, 0),
    };
  }
}
