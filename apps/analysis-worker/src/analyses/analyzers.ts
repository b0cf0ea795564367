import { Inject, Injectable } from '@nestjs/common';
import {
  QuarryError,
  type AnalysisRequest,
  type AnalysisResult,
  type Citation,
  type SearchFilter,
} from '@quarry/contracts';
import { AnalysesRepository, ChunksRepository, type AnalysisChunk } from '@quarry/persistence';
import {
  answeringSentences,
  centralSentences,
  classifyByEmbedding,
  sentencesOf,
  type EmbeddingProvider,
  type Sentence,
} from '@quarry/retrieval';
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

/** How many documents a classify or summarize reads at most: beyond that a filter should narrow it. */
const MAX_DOCUMENTS = 1000;
const SUMMARY_SENTENCES = { short: 3, medium: 6, long: 12 } as const;
/** Chunks of one document a summary reads (its first ones: long documents say what they are early). */
const SUMMARY_CHUNKS_PER_DOCUMENT = 40;

type Of<T extends AnalysisRequest['type']> = Extract<AnalysisRequest, { type: T }>;

function stopped(): QuarryError {
  return new QuarryError(
    'dependency_unavailable',
    'worker shutting down: the analysis resumes on redelivery',
    {
      retryable: true,
    },
  );
}

function citation(c: AnalysisChunk, quote: string): Citation {
  return { documentId: c.documentId, filename: c.filename, page: c.page, chunkId: c.chunkId, quote };
}

/**
 * The offline analyses (ADR 28): what runs when no language model is configured. Each says its method; none
 * invents text — answers and summaries are sentences quoted from the documents, classes come from embeddings.
 */
@Injectable()
export class OfflineAnalyzers {
  constructor(
    private readonly analyses: AnalysesRepository,
    private readonly chunks: ChunksRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly embeddings: EmbeddingProvider,
  ) {}

  private get model() {
    return { id: this.embeddings.id, dim: this.embeddings.dim };
  }

  run(request: AnalysisRequest, run: AnalysisRun): Promise<AnalysisResult> {
    switch (request.type) {
      case 'classify':
        return this.classify(request, run);
      case 'summarize':
        return this.summarize(request, run);
      case 'answer':
        return this.answer(request, run);
      case 'report':
        return this.report(request, run);
      case 'extract':
        throw new QuarryError(
          'llm_not_configured',
          'extract needs a language model: set LLM_BASE_URL, LLM_API_KEY and LLM_MODEL',
        );
    }
  }

  private async selected(
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

  /** Zero-shot: each label's name and description embedded, against each document's mean chunk vector. */
  private async classify(request: Of<'classify'>, run: AnalysisRun): Promise<AnalysisResult> {
    const docs = await this.selected(run, request);
    await run.progress({ step: 'classifying', done: 0, total: docs.length });
    const labelVectors = await this.embeddings.embed(
      request.labels.map((l) => (l.description ? `${l.name}: ${l.description}` : l.name)),
    );
    const labels = request.labels.map((l, i) => ({ name: l.name, vector: labelVectors[i] ?? [] }));
    const vectors = await this.analyses.documentVectors(
      run.tenantId,
      this.model,
      docs.map((d) => d.id),
    );
    const results = docs.flatMap((d) => {
      const v = vectors.get(d.id);
      if (!v) return [];
      const { labels: given, scores } = classifyByEmbedding(v, labels, request.multiLabel);
      return [{ documentId: d.id, filename: d.filename, labels: given, scores }];
    });
    await run.progress({ step: 'classifying', done: docs.length, total: docs.length });
    return { type: 'classify', method: 'embedding', model: this.model.id, results };
  }

  /** The most central sentences of the selection, quoted with where each comes from. */
  private async summarize(request: Of<'summarize'>, run: AnalysisRun): Promise<AnalysisResult> {
    const docs = await this.selected(run, request);
    const pieces: { text: string; source: AnalysisChunk }[] = [];
    for (const [i, d] of docs.entries()) {
      if (run.signal.aborted) throw stopped();
      const chunks = await this.analyses.chunks(run.tenantId, this.model, d.id, SUMMARY_CHUNKS_PER_DOCUMENT);
      pieces.push(...chunks.map((c) => ({ text: c.text, source: c })));
      run.working();
      await run.progress({ step: 'summarizing', done: i + 1, total: docs.length, details: d.filename });
    }
    const picked = centralSentences(sentencesOf(pieces), SUMMARY_SENTENCES[request.length]);
    return {
      type: 'summarize',
      method: 'extractive',
      summary: picked.map((s) => s.text).join(' '),
      citations: picked.map((s) => citation(s.source, s.text)),
    };
  }

  /** The passages hybrid search finds for the question, and their sentences that share its rarest terms. */
  private async answer(request: Of<'answer'>, run: AnalysisRun): Promise<AnalysisResult> {
    await run.progress({ step: 'retrieving', done: 0, total: 1 });
    const [questionVector] = await this.embeddings.embed([request.question]);
    const passages = await this.retrieve(run, request.question, questionVector, request.filter, 8);
    await run.progress({ step: 'answering', done: 0, total: 1 });
    const best = answeringSentences(
      request.question,
      sentencesOf(passages.map((p) => ({ text: p.chunk.text, source: p }))),
      (p) => p.weight,
      2,
    );
    return {
      type: 'answer',
      method: 'extractive',
      question: request.question,
      answer: best.length === 0 ? null : best.map((b) => b.sentence.text).join(' '),
      citations: best.map((b) => citation(b.sentence.source.chunk, b.sentence.text)),
    };
  }

  /**
   * The long one: candidates from hybrid search (retrieving), then every candidate document scored on its own
   * against the question, each score kept as it is made so a redelivery goes on from there (scoring), then a ranked
   * report quoting the best passages (writing).
   */
  private async report(request: Of<'report'>, run: AnalysisRun): Promise<AnalysisResult> {
    await run.progress({ step: 'retrieving', done: 0, total: 1 });
    // Embedded once: retrieval and every candidate's scoring search use the same vector.
    const [questionVector] = await this.embeddings.embed([request.question]);
    const passages = await this.retrieve(
      run,
      request.question,
      questionVector,
      request.filter,
      Math.min(500, request.maxDocuments * 3),
    );
    const candidates = [...new Map(passages.map((p) => [p.chunk.documentId, p.chunk])).values()].slice(
      0,
      request.maxDocuments,
    );
    const done = await this.analyses.items(run.jobId);
    let finished = candidates.filter((c) => done.has(c.documentId)).length;
    await run.progress({ step: 'scoring', done: finished, total: candidates.length });
    for (const candidate of candidates) {
      if (done.has(candidate.documentId)) continue;
      if (run.signal.aborted) throw stopped();
      if (!(await this.analyses.isActive(run.jobId))) {
        throw new QuarryError('conflict', 'the job was cancelled while it was being scored');
      }
      const { hits } = await this.chunks.search({
        tenantId: run.tenantId,
        mode: 'hybrid',
        query: request.question,
        ...(questionVector ? { vector: questionVector } : {}),
        model: this.model,
        filter: { documentIds: [candidate.documentId] },
        topK: 3,
        offset: 0,
      });
      const score = Math.max(0, ...hits.map((h) => (h.vectorScore ?? 0) + (h.keywordScore ? 0.1 : 0)));
      const quotes = hits.slice(0, 2).map((h) => ({
        documentId: h.documentId,
        filename: h.filename,
        page: h.pageNumber,
        chunkId: h.chunkId,
        quote: bestSentence(request.question, h.text),
      }));
      finished += 1;
      const output = {
        score: Math.round(score * 10_000) / 10_000,
        filename: candidate.filename,
        citations: quotes,
      };
      await this.analyses.saveItem(run.jobId, candidate.documentId, output, {
        step: 'scoring',
        done: finished,
        total: candidates.length,
        details: candidate.filename,
      });
      done.set(candidate.documentId, output);
      run.working();
    }
    await run.progress({ step: 'writing', done: 0, total: 1 });
    const ranked = candidates
      .map((c) => ({ documentId: c.documentId, ...(done.get(c.documentId) as ReportItem) }))
      .sort((a, b) => b.score - a.score);
    const lines = ranked
      .slice(0, 10)
      .map(
        (d, i) =>
          `${i + 1}. ${d.filename} (relevance ${d.score.toFixed(2)})` +
          (d.citations[0] ? `: "${d.citations[0].quote}" (page ${d.citations[0].page})` : ''),
      );
    const report =
      ranked.length === 0
        ? `No document answers "${request.question}".`
        : `${ranked.length} document(s) scored for "${request.question}". The most relevant:\n${lines.join('\n')}`;
    return {
      type: 'report',
      method: 'embedding',
      question: request.question,
      documents: ranked.map((d) => ({
        documentId: d.documentId,
        filename: d.filename,
        score: d.score,
        citations: d.citations,
      })),
      report,
    };
  }

  /** Hybrid search for the question (with its vector): passages with a weight in (0, 1] by rank. */
  private async retrieve(
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
    return hits.map((h, i) => ({
      chunk: {
        chunkId: h.chunkId,
        documentId: h.documentId,
        filename: h.filename,
        page: h.pageNumber,
        text: h.text,
      } satisfies AnalysisChunk,
      weight: 1 / (1 + i),
    }));
  }
}

interface ReportItem {
  score: number;
  filename: string;
  citations: Citation[];
}

/** The sentence of a passage that best answers the question, or its first sentence when none shares a term. */
function bestSentence(question: string, text: string): string {
  const sentences: Sentence<null>[] = sentencesOf([{ text, source: null }]);
  const best = answeringSentences(question, sentences, () => 0, 1)[0];
  return best?.sentence.text ?? sentences[0]?.text ?? text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
