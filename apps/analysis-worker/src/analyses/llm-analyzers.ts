import { Inject, Injectable } from '@nestjs/common';
import {
  QuarryError,
  type AnalysisResult,
  type Citation,
  type DocumentClassification,
  type LlmUsage,
  type UploadClassification,
} from '@quarry/contracts';
import type { AnalysisChunk } from '@quarry/persistence';
import {
  centralSentences,
  classifyByEmbedding,
  sentencesOf,
  type LanguageModel,
  type StructuredPrompt,
  type TokenCount,
} from '@quarry/retrieval';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { QUARRY_METRICS, type QuarryMetrics } from '@quarry/telemetry';
import { rankReport, reportCandidates, SUMMARY_CHUNKS_PER_DOCUMENT, type ReportItem } from './analyzers';
import {
  classifySchema,
  passagesBlock,
  PROMPTS,
  reportSchema,
  scoreSchema,
  sourcedTextSchema,
  type ClassifyOutput,
  type ScoreOutput,
  type SourcedText,
} from './prompts';
import {
  AnalysisSources,
  bestSentence,
  citation,
  passageCitations,
  type Analyzer,
  type AnalysisRun,
  type Of,
} from './sources';

export const LANGUAGE_MODEL = Symbol('LANGUAGE_MODEL');

/** Passages an answer or a report is written from; sentences a summary is written from, per length. */
const ANSWER_PASSAGES = 8;
const SUMMARY_SOURCES = { short: 8, medium: 16, long: 32 } as const;
const REPORT_DOCUMENTS_WRITTEN = 10;

/**
 * Tokens of one job. Calls whose output is kept per item (classify, extract, a report's scoring) are counted in the
 * metric when made and in the job's usage from the kept items when the job ends, so a resumed job still counts what
 * earlier deliveries spent, and nothing twice.
 */
class UsageMeter {
  private calls = 0;
  private prompt = 0;
  private completion = 0;

  constructor(
    private readonly model: string,
    private readonly metrics: QuarryMetrics,
  ) {}

  /** A call just made: in the metric, and in the job's usage unless it is kept with an item. */
  spent(tokens: TokenCount, keptWithItem: boolean): void {
    const counter = this.metrics.counter('quarry_llm_tokens_total');
    counter.inc({ model: this.model, kind: 'prompt' }, tokens.promptTokens);
    counter.inc({ model: this.model, kind: 'completion' }, tokens.completionTokens);
    if (!keptWithItem) this.add(tokens);
  }

  /** The tokens of kept items, this delivery's and earlier ones' (none on an item kept before a model was set). */
  addKept(items: Iterable<{ tokens?: TokenCount | undefined }>): void {
    for (const item of items) if (item.tokens) this.add(item.tokens);
  }

  usage(): LlmUsage {
    return {
      model: this.model,
      calls: this.calls,
      promptTokens: this.prompt,
      completionTokens: this.completion,
      totalTokens: this.prompt + this.completion,
    };
  }

  private add(tokens: TokenCount): void {
    this.calls += 1;
    this.prompt += tokens.promptTokens;
    this.completion += tokens.completionTokens;
  }
}

/** What a per-document item keeps: its output and the tokens that made it. */
interface Kept<T> {
  output: T;
  tokens: TokenCount;
}

/**
 * The analyses with a language model (ADR 29): the same documents and passages as offline, given to the model with a
 * JSON Schema for its answer. Statements cite passages by number and the numbers are mapped back to chunks here, so
 * every citation points at a real chunk whatever the model writes; per-document work (classify, extract, a report's
 * scoring) is kept item by item and resumes on redelivery.
 */
@Injectable()
export class LlmAnalyzers implements Analyzer {
  private readonly maxInputChars: number;

  constructor(
    private readonly sources: AnalysisSources,
    @Inject(LANGUAGE_MODEL) private readonly model: LanguageModel | null,
    @Inject(QUARRY_METRICS) private readonly metrics: QuarryMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maxInputChars = config.llm?.maxInputChars ?? 0;
  }

  /** Whether a language model is configured: without one the offline analyzers run. */
  get available(): boolean {
    return this.model !== null;
  }

  private get llm(): LanguageModel {
    if (this.model === null) throw new QuarryError('llm_not_configured', 'no language model is configured');
    return this.model;
  }

  run(request: Parameters<Analyzer['run']>[0], run: AnalysisRun): Promise<AnalysisResult> {
    const meter = new UsageMeter(this.llm.model, this.metrics);
    switch (request.type) {
      case 'classify':
        return this.classify(request, run, meter);
      case 'extract':
        return this.extract(request, run, meter);
      case 'summarize':
        return this.summarize(request, run, meter);
      case 'answer':
        return this.answer(request, run, meter);
      case 'report':
        return this.report(request, run, meter);
    }
  }

  /** Classify on upload: the labels the model gives the document's text, scores from embeddings. */
  async classifyUpload(
    request: UploadClassification,
    text: string,
    scores: DocumentClassification['scores'],
    signal?: AbortSignal,
  ): Promise<DocumentClassification & { reason: string; usage: LlmUsage }> {
    const meter = new UsageMeter(this.llm.model, this.metrics);
    const output = await this.ask<ClassifyOutput>(meter, {
      name: 'classification',
      system: PROMPTS.classify(request.multiLabel),
      user: `${PROMPTS.labels(request.labels)}\n\nDocument:\n${this.clip(text)}`,
      schema: classifySchema(
        request.labels.map((l) => l.name),
        request.multiLabel,
      ),
      strict: true,
      ...(signal ? { signal } : {}),
    });
    return { method: 'llm', labels: output.labels, scores, reason: output.reason, usage: meter.usage() };
  }

  private async classify(
    request: Of<'classify'>,
    run: AnalysisRun,
    meter: UsageMeter,
  ): Promise<AnalysisResult> {
    const docs = await this.sources.selected(run, request);
    const names = request.labels.map((l) => l.name);
    // Scores from embeddings as offline (a ranking the model's one choice does not give), labels from the model.
    const labelVectors = await this.sources.embeddings.embed(
      request.labels.map((l) => (l.description ? `${l.name}: ${l.description}` : l.name)),
    );
    const vectors = await this.sources.documentVectors(
      run,
      docs.map((d) => d.id),
    );
    const kept = await this.sources.eachItem(
      run,
      'classifying',
      docs,
      (d) => d.id,
      (d) => d.filename,
      async (d): Promise<Kept<ClassifyOutput>> => {
        const text = await this.documentText(run, d.id);
        return this.askKept<ClassifyOutput>(meter, {
          name: 'classification',
          system: PROMPTS.classify(request.multiLabel),
          user: `${PROMPTS.labels(request.labels)}\n\nDocument "${d.filename}":\n${text}`,
          schema: classifySchema(names, request.multiLabel),
          strict: true,
          signal: run.signal,
        });
      },
    );
    const results = docs.flatMap((d) => {
      const item = kept.get(d.id);
      if (!item) return [];
      const v = vectors.get(d.id);
      const scores = v
        ? classifyByEmbedding(
            v,
            request.labels.map((l, i) => ({ name: l.name, vector: labelVectors[i] ?? [] })),
            request.multiLabel,
          ).scores
        : names.map((name) => ({ name, score: item.output.labels.includes(name) ? 1 : 0 }));
      return [
        {
          documentId: d.id,
          filename: d.filename,
          labels: item.output.labels,
          scores,
          reason: item.output.reason,
        },
      ];
    });
    meter.addKept(kept.values());
    return { type: 'classify', method: 'llm', model: this.llm.model, results, usage: meter.usage() };
  }

  private async extract(
    request: Of<'extract'>,
    run: AnalysisRun,
    meter: UsageMeter,
  ): Promise<AnalysisResult> {
    const docs = await this.sources.selected(run, { documentIds: request.documentIds });
    const kept = await this.sources.eachItem(
      run,
      'extracting',
      docs,
      (d) => d.id,
      (d) => d.filename,
      async (d): Promise<Kept<unknown>> =>
        this.askKept<unknown>(meter, {
          name: 'extraction',
          system: PROMPTS.extract,
          user: `Document "${d.filename}":\n${await this.documentText(run, d.id)}`,
          schema: request.schema,
          // A client's schema need not follow strict mode's rules; the answer is validated against it either way.
          strict: false,
          signal: run.signal,
        }),
    );
    const results = docs.flatMap((d) => {
      const item = kept.get(d.id);
      return item ? [{ documentId: d.id, filename: d.filename, output: item.output }] : [];
    });
    meter.addKept(kept.values());
    return { type: 'extract', method: 'llm', results, usage: meter.usage() };
  }

  /** Written from the selection's most central sentences (as offline picks them), citing them by number. */
  private async summarize(
    request: Of<'summarize'>,
    run: AnalysisRun,
    meter: UsageMeter,
  ): Promise<AnalysisResult> {
    const docs = await this.sources.selected(run, request);
    const pieces: { text: string; source: AnalysisChunk }[] = [];
    for (const [i, d] of docs.entries()) {
      const chunks = await this.sources.documentChunks(run, d.id, SUMMARY_CHUNKS_PER_DOCUMENT);
      pieces.push(...chunks.map((c) => ({ text: c.text, source: c })));
      run.working();
      await run.progress({ step: 'reading', done: i + 1, total: docs.length, details: d.filename });
    }
    const picked = centralSentences(sentencesOf(pieces), SUMMARY_SOURCES[request.length]);
    const passages = picked.map((s) => ({ chunk: s.source, quote: s.text }));
    await run.progress({ step: 'summarizing', done: 0, total: 1 });
    const output = await this.ask<SourcedText>(meter, {
      name: 'summary',
      system: PROMPTS.summarize(request.length),
      user: passagesBlock(
        passages.map((p) => ({ filename: p.chunk.filename, page: p.chunk.page, text: p.quote })),
      ),
      schema: sourcedTextSchema('summary', false),
      strict: true,
      signal: run.signal,
    });
    return {
      type: 'summarize',
      method: 'llm',
      summary: output.text ?? '',
      citations: cited(output.sources, passages),
      usage: meter.usage(),
    };
  }

  private async answer(request: Of<'answer'>, run: AnalysisRun, meter: UsageMeter): Promise<AnalysisResult> {
    await run.progress({ step: 'retrieving', done: 0, total: 1 });
    const vector = await this.sources.embedQuestion(request.question);
    const found = await this.sources.retrieve(run, request.question, vector, request.filter, ANSWER_PASSAGES);
    await run.progress({ step: 'answering', done: 0, total: 1 });
    if (found.length === 0) {
      return { type: 'answer', method: 'llm', question: request.question, answer: null, citations: [] };
    }
    const passages = found.map((p) => ({
      chunk: p.chunk,
      quote: bestSentence(request.question, p.chunk.text),
    }));
    const output = await this.ask<SourcedText>(meter, {
      name: 'answer',
      system: PROMPTS.answer,
      user: `Question: ${request.question}\n\n${passagesBlock(
        found.map((p) => ({ filename: p.chunk.filename, page: p.chunk.page, text: p.chunk.text })),
      )}`,
      schema: sourcedTextSchema('answer', true),
      strict: true,
      signal: run.signal,
    });
    const answer = output.text?.trim() ? output.text.trim() : null;
    return {
      type: 'answer',
      method: 'llm',
      question: request.question,
      answer,
      citations: answer === null ? [] : cited(output.sources, passages),
      usage: meter.usage(),
    };
  }

  private async report(request: Of<'report'>, run: AnalysisRun, meter: UsageMeter): Promise<AnalysisResult> {
    await run.progress({ step: 'retrieving', done: 0, total: 1 });
    const vector = await this.sources.embedQuestion(request.question);
    const candidates = await reportCandidates(this.sources, run, request, vector);
    const kept = await this.sources.eachItem(
      run,
      'scoring',
      candidates,
      (c) => c.documentId,
      (c) => c.filename,
      async (candidate): Promise<ReportItem & { tokens: TokenCount }> => {
        const hits = await this.sources.documentPassages(
          run,
          request.question,
          vector,
          candidate.documentId,
          3,
        );
        const { output, tokens } = await this.askKept<ScoreOutput>(meter, {
          name: 'relevance',
          system: PROMPTS.score,
          user: `Question: ${request.question}\n\nDocument "${candidate.filename}":\n${passagesBlock(
            hits.map((h) => ({ filename: h.filename, page: h.pageNumber, text: h.text })),
          )}`,
          schema: scoreSchema,
          strict: true,
          signal: run.signal,
        });
        return {
          score: Math.round(Math.min(1, Math.max(0, output.relevance)) * 10_000) / 10_000,
          filename: candidate.filename,
          reason: output.reason,
          citations: passageCitations(request.question, hits.slice(0, 2)),
          tokens,
        };
      },
    );
    meter.addKept(kept.values());
    await run.progress({ step: 'writing', done: 0, total: 1 });
    const ranked = rankReport(candidates, kept).map(({ tokens: _tokens, ...d }) => d);
    const best = ranked.slice(0, REPORT_DOCUMENTS_WRITTEN).filter((d) => d.citations.length > 0);
    let report = `No document answers "${request.question}".`;
    if (best.length > 0) {
      const output = await this.ask<{ report: string }>(meter, {
        name: 'report',
        system: PROMPTS.report,
        user: `Question: ${request.question}\n\n${best
          .map(
            (d, i) =>
              `Document ${i + 1}: "${d.filename}" (relevance ${d.score.toFixed(2)}; ${d.reason ?? ''})\n` +
              d.citations.map((c) => `  page ${c.page}: ${c.quote}`).join('\n'),
          )
          .join('\n\n')}`,
        schema: reportSchema,
        strict: true,
        signal: run.signal,
      });
      report = output.report;
    }
    return {
      type: 'report',
      method: 'llm',
      question: request.question,
      documents: ranked,
      report,
      usage: meter.usage(),
    };
  }

  private async ask<T>(meter: UsageMeter, prompt: StructuredPrompt): Promise<T> {
    const { output, tokens } = await this.llm.generate(prompt);
    meter.spent(tokens, false);
    return output as T;
  }

  /** One item's call: its tokens are kept with its output and enter the job's usage from there. */
  private async askKept<T>(meter: UsageMeter, prompt: StructuredPrompt): Promise<Kept<T>> {
    const { output, tokens } = await this.llm.generate(prompt);
    meter.spent(tokens, true);
    return { output: output as T, tokens };
  }

  private async documentText(run: AnalysisRun, documentId: string): Promise<string> {
    const chunks = await this.sources.documentChunks(run, documentId, SUMMARY_CHUNKS_PER_DOCUMENT);
    return this.clip(chunks.map((c) => c.text).join('\n'));
  }

  /** A document's beginning, up to the configured size: what a long document is about is said early. */
  private clip(text: string): string {
    return text.length <= this.maxInputChars ? text : `${text.slice(0, this.maxInputChars)}\n[…]`;
  }
}

/** The passages the model cited by number (1-based), mapped back to their chunks; numbers it made up are dropped. */
function cited(
  numbers: readonly number[],
  passages: readonly { chunk: AnalysisChunk; quote: string }[],
): Citation[] {
  const seen = new Set<number>();
  return numbers.flatMap((n) => {
    const p = passages[n - 1];
    if (!Number.isInteger(n) || !p || seen.has(n)) return [];
    seen.add(n);
    return [citation(p.chunk, p.quote)];
  });
}
