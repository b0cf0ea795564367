import { Injectable } from '@nestjs/common';
import { QuarryError, type AnalysisRequest, type AnalysisResult, type Citation } from '@quarry/contracts';
import type { AnalysisChunk } from '@quarry/persistence';
import { answeringSentences, centralSentences, classifyByEmbedding, sentencesOf } from '@quarry/retrieval';
import {
  AnalysisSources,
  passageCitations,
  citation,
  stopped,
  type Analyzer,
  type AnalysisRun,
  type Of,
} from './sources';

const SUMMARY_SENTENCES = { short: 3, medium: 6, long: 12 } as const;
/** Chunks of one document a summary reads (its first ones: long documents say what they are early). */
export const SUMMARY_CHUNKS_PER_DOCUMENT = 40;

/**
 * The offline analyses (ADR 28): what runs when no language model is configured. Each says its method; none
 * invents text — answers and summaries are sentences quoted from the documents, classes come from embeddings.
 */
@Injectable()
export class OfflineAnalyzers implements Analyzer {
  constructor(private readonly sources: AnalysisSources) {}

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

  /** Zero-shot: each label's name and description embedded, against each document's mean chunk vector. */
  private async classify(request: Of<'classify'>, run: AnalysisRun): Promise<AnalysisResult> {
    const docs = await this.sources.selected(run, request);
    await run.progress({ step: 'classifying', done: 0, total: docs.length });
    const labelVectors = await this.sources.embeddings.embed(
      request.labels.map((l) => (l.description ? `${l.name}: ${l.description}` : l.name)),
    );
    const labels = request.labels.map((l, i) => ({ name: l.name, vector: labelVectors[i] ?? [] }));
    const vectors = await this.sources.documentVectors(
      run,
      docs.map((d) => d.id),
    );
    const results = docs.flatMap((d) => {
      const v = vectors.get(d.id);
      if (!v) return [];
      const { labels: given, scores } = classifyByEmbedding(v, labels, request.multiLabel);
      return [{ documentId: d.id, filename: d.filename, labels: given, scores }];
    });
    await run.progress({ step: 'classifying', done: docs.length, total: docs.length });
    return { type: 'classify', method: 'embedding', model: this.sources.model.id, results };
  }

  /** The most central sentences of the selection, quoted with where each comes from. */
  private async summarize(request: Of<'summarize'>, run: AnalysisRun): Promise<AnalysisResult> {
    const docs = await this.sources.selected(run, request);
    const pieces: { text: string; source: AnalysisChunk }[] = [];
    for (const [i, d] of docs.entries()) {
      if (run.signal.aborted) throw stopped();
      const chunks = await this.sources.documentChunks(run, d.id, SUMMARY_CHUNKS_PER_DOCUMENT);
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
    const questionVector = await this.sources.embedQuestion(request.question);
    const passages = await this.sources.retrieve(run, request.question, questionVector, request.filter, 8);
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
    const questionVector = await this.sources.embedQuestion(request.question);
    const candidates = await reportCandidates(this.sources, run, request, questionVector);
    const scored = await this.sources.eachItem(
      run,
      'scoring',
      candidates,
      (c) => c.documentId,
      (c) => c.filename,
      async (candidate): Promise<ReportItem> => {
        const hits = await this.sources.documentPassages(
          run,
          request.question,
          questionVector,
          candidate.documentId,
          3,
        );
        const score = Math.max(0, ...hits.map((h) => (h.vectorScore ?? 0) + (h.keywordScore ? 0.1 : 0)));
        return {
          score: Math.round(score * 10_000) / 10_000,
          filename: candidate.filename,
          citations: passageCitations(request.question, hits.slice(0, 2)),
        };
      },
    );
    await run.progress({ step: 'writing', done: 0, total: 1 });
    const ranked = rankReport(candidates, scored);
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
    return { type: 'report', method: 'embedding', question: request.question, documents: ranked, report };
  }
}

/** A report's scored document, as kept per item (a redelivery reads it back). */
export interface ReportItem {
  score: number;
  filename: string;
  reason?: string;
  citations: Citation[];
}

/** The distinct documents of the passages hybrid search finds for the question, best first. */
export async function reportCandidates(
  sources: AnalysisSources,
  run: AnalysisRun,
  request: Of<'report'>,
  questionVector: Float32Array | undefined,
): Promise<AnalysisChunk[]> {
  const passages = await sources.retrieve(
    run,
    request.question,
    questionVector,
    request.filter,
    Math.min(500, request.maxDocuments * 3),
  );
  return [...new Map(passages.map((p) => [p.chunk.documentId, p.chunk])).values()].slice(
    0,
    request.maxDocuments,
  );
}

/** Scored candidates, most relevant first. */
export function rankReport<T extends ReportItem>(
  candidates: readonly AnalysisChunk[],
  scored: ReadonlyMap<string, T>,
): (T & { documentId: string })[] {
  return candidates
    .flatMap((c) => {
      const item = scored.get(c.documentId);
      return item ? [{ documentId: c.documentId, ...item }] : [];
    })
    .sort((a, b) => b.score - a.score);
}
