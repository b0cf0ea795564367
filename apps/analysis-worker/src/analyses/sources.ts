import { Inject, Injectable } from '@nestjs/common';
import {
  QuarryError,
  type AnalysisRequest,
  type AnalysisResult,
  type Citation,
  type SearchFilter,
} from '@quarry/contracts';
import { AnalysesRepository, ChunksRepository, type AnalysisChunk } from '@quarry/persistence';
import { answeringSentences, sentencesOf, type EmbeddingProvider, type Sentence } from '@quarry/retrieval';
import { EMBEDDING_PROVIDER } from '../embeddings';

/** What an analysis may do while it runs: keep its message alive, report progress, stop when told. */
export interface AnalysisRun {
  jobId: string;
  tenantId: string;
  /** Resets the message's ack timer (long analyses call it between items). */
  working(): void;
  /** Aborted when the worker shuts down: stop at the next item, the redelivery resumes. */
  signal: AbortSignal;
  progress(p: { step: string; done: number; total: number; details?: string }): Promise<void>;
}

/** One way of making analyses: offline (embeddings, extractive) or with a language model. */
export interface Analyzer {
  run(request: AnalysisRequest, run: AnalysisRun): Promise<AnalysisResult>;
}

export type Of<T extends AnalysisRequest['type']> = Extract<AnalysisRequest, { type: T }>;

/** A passage retrieval found for a question, with a weight in (0, 1] by its rank. */
export interface Passage {
  chunk: AnalysisChunk;
  weight: number;
}

/** How many documents a classify or summarize reads at most: beyond that a filter should narrow it. */
const MAX_DOCUMENTS = 1000;

export function stopped(): QuarryError {
  return new QuarryError(
    'dependency_unavailable',
    'worker shutting down: the analysis resumes on redelivery',
    {
      retryable: true,
    },
  );
}

export function citation(c: AnalysisChunk, quote: string): Citation {
  return { documentId: c.documentId, filename: c.filename, page: c.page, chunkId: c.chunkId, quote };
}

/** The sentence of a passage that best answers the question, or its first sentence when none shares a term. */
export function bestSentence(question: string, text: string): string {
  const sentences: Sentence<null>[] = sentencesOf([{ text, source: null }]);
  const best = answeringSentences(question, sentences, () => 0, 1)[0];
  return best?.sentence.text ?? sentences[0]?.text ?? text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * What every analysis reads, whichever way it is made: the documents a selection names, the passages hybrid search
 * finds for a question, a document's text in order, all under the worker's embedding model; and the loop that goes
 * through a long analysis's items one by one, keeping each result as it is made so a redelivery goes on from there.
 */
@Injectable()
export class AnalysisSources {
  constructor(
    private readonly analyses: AnalysesRepository,
    private readonly chunks: ChunksRepository,
    @Inject(EMBEDDING_PROVIDER) readonly embeddings: EmbeddingProvider,
  ) {}

  get model() {
    return { id: this.embeddings.id, dim: this.embeddings.dim };
  }

  async selected(
    run: AnalysisRun,
    selection: { documentIds?: string[] | undefined; filter?: SearchFilter | undefined },
  ) {
    const docs = await this.analyses.documents(
      run.tenantId,
      {
        ...(selection.documentIds ? { documentIds: selection.documentIds } : {}),
        ...(selection.filter ? { filter: selection.filter } : {}),
      },
      MAX_DOCUMENTS,
    );
    if (docs.length === 0)
      throw new QuarryError('no_documents', 'no indexed document matches the documentIds or filter given');
    return docs;
  }

  async embedQuestion(question: string): Promise<Float32Array | undefined> {
    const [vector] = await this.embeddings.embed([question]);
    return vector;
  }

  /** Hybrid search for the question (with its vector), within a filter. */
  async retrieve(
    run: AnalysisRun,
    question: string,
    vector: Float32Array | undefined,
    filter: SearchFilter | undefined,
    topK: number,
  ): Promise<Passage[]> {
    const hits = await this.search(run, question, vector, filter, topK);
    return hits.map((h, i) => ({
      chunk: {
        chunkId: h.chunkId,
        documentId: h.documentId,
        filename: h.filename,
        page: h.pageNumber,
        text: h.text,
      },
      weight: 1 / (1 + i),
    }));
  }

  /** A document's first chunks, in order. */
  documentChunks(run: AnalysisRun, documentId: string, limit: number): Promise<AnalysisChunk[]> {
    return this.analyses.chunks(run.tenantId, this.model, documentId, limit);
  }

  documentVectors(run: AnalysisRun, documentIds: readonly string[]) {
    return this.analyses.documentVectors(run.tenantId, this.model, documentIds);
  }

  /**
   * Runs `work` for each item not finished by an earlier delivery, in order, keeping each output with the job's
   * progress as soon as it is made; returns every item's output, earlier ones included. Between items it checks for
   * shutdown (the redelivery resumes) and cancellation (the job is no longer active), and resets the ack timer.
   */
  async eachItem<I, O>(
    run: AnalysisRun,
    step: string,
    items: readonly I[],
    key: (item: I) => string,
    label: (item: I) => string,
    work: (item: I) => Promise<O>,
  ): Promise<Map<string, O>> {
    const done = (await this.analyses.items(run.jobId)) as Map<string, O>;
    let finished = items.filter((i) => done.has(key(i))).length;
    await run.progress({ step, done: finished, total: items.length });
    for (const item of items) {
      if (done.has(key(item))) continue;
      if (run.signal.aborted) throw stopped();
      if (!(await this.analyses.isActive(run.jobId))) {
        throw new QuarryError('conflict', `the job was cancelled while ${step}`);
      }
      const output = await work(item);
      finished += 1;
      await this.analyses.saveItem(run.jobId, key(item), output, {
        step,
        done: finished,
        total: items.length,
        details: label(item),
      });
      done.set(key(item), output);
      run.working();
    }
    return done;
  }

  /** The best passages of one document for a question (a report's evidence for it). */
  documentPassages(
    run: AnalysisRun,
    question: string,
    vector: Float32Array | undefined,
    documentId: string,
    topK: number,
  ) {
    return this.search(run, question, vector, { documentIds: [documentId] }, topK);
  }

  private async search(
    run: AnalysisRun,
    question: string,
    vector: Float32Array | undefined,
    filter: SearchFilter | undefined,
    topK: number,
  ) {
    const { hits } = await this.chunks.search({
      tenantId: run.tenantId,
      mode: 'hybrid',
      query: question,
      ...(vector ? { vector } : {}),
      model: this.model,
      ...(filter ? { filter } : {}),
      topK,
      offset: 0,
    });
    return hits;
  }
}

/** A report's evidence for one document: its best passages, each quoted by the sentence that best answers. */
export function passageCitations(
  question: string,
  hits: readonly {
    documentId: string;
    filename: string;
    pageNumber: number;
    chunkId: string;
    text: string;
  }[],
): Citation[] {
  return hits.map((h) => ({
    documentId: h.documentId,
    filename: h.filename,
    page: h.pageNumber,
    chunkId: h.chunkId,
    quote: bestSentence(question, h.text),
  }));
}
