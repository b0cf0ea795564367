import { z } from 'zod';
import { SearchFilter } from './catalogue';
import { jsonSchemaProblem } from './json-schema';

/**
 * Analyses: jobs of type `analyze` that read a tenant's indexed documents and write a result on the job. Each
 * result says how it was made: `llm` (a configured language model), `embedding` (similarity of the local or
 * configured embedding model's vectors) or `extractive` (sentences quoted from the documents, ranked).
 */

export const Label = z.strictObject({
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(1000).optional(),
});

/** Which documents an analysis reads: the ones named, or the ones a search filter allows. */
const Selection = {
  documentIds: z.array(z.uuid()).min(1).max(1000).optional(),
  filter: SearchFilter.optional(),
};

const Question = z.string().trim().min(1, 'must not be empty').max(2000);

export const AnalysisRequest = z.discriminatedUnion('type', [
  z
    .strictObject({
      type: z.literal('classify'),
      labels: z
        .array(Label)
        .min(2, 'give at least two labels')
        .max(50)
        .refine((l) => new Set(l.map((x) => x.name)).size === l.length, 'label names must differ'),
      multiLabel: z.boolean().default(false),
      ...Selection,
    })
    .refine((r) => r.documentIds !== undefined || r.filter !== undefined, 'give documentIds or a filter'),
  z.strictObject({
    type: z.literal('extract'),
    /** A JSON Schema (an object schema) each document's output must be valid against. */
    schema: z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
      const problem = jsonSchemaProblem(schema);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
    documentIds: z.array(z.uuid()).min(1).max(100),
  }),
  z
    .strictObject({
      type: z.literal('summarize'),
      length: z.enum(['short', 'medium', 'long']).default('medium'),
      ...Selection,
    })
    .refine((r) => r.documentIds !== undefined || r.filter !== undefined, 'give documentIds or a filter'),
  z.strictObject({ type: z.literal('answer'), question: Question, filter: SearchFilter.optional() }),
  z.strictObject({
    type: z.literal('report'),
    question: Question,
    filter: SearchFilter.optional(),
    /** How many candidate documents to score one by one. */
    maxDocuments: z.number().int().min(1).max(1000).default(200),
  }),
]);
export type AnalysisRequest = z.infer<typeof AnalysisRequest>;
export type AnalysisType = AnalysisRequest['type'];

export const AnalysisMethod = z.enum(['llm', 'embedding', 'extractive']);
export type AnalysisMethod = z.infer<typeof AnalysisMethod>;

/**
 * What a job spent on a language model, as the server counted it: summed over every call the analysis made,
 * including calls of earlier deliveries whose results were kept (a report's scored documents).
 */
export const LlmUsage = z.object({
  model: z.string(),
  calls: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
});
export type LlmUsage = z.infer<typeof LlmUsage>;

/** Where a statement comes from: the chunk and page it quotes, and the quote (the chunk's text, whitespace collapsed). */
export const Citation = z.object({
  documentId: z.uuid(),
  filename: z.string(),
  page: z.number().int(),
  chunkId: z.uuid(),
  quote: z.string(),
});
export type Citation = z.infer<typeof Citation>;

export const ClassifyResult = z.object({
  usage: LlmUsage.optional(),
  type: z.literal('classify'),
  method: AnalysisMethod,
  model: z.string(),
  results: z.array(
    z.object({
      documentId: z.uuid(),
      filename: z.string(),
      /** The label(s) given: the best one, or with multiLabel every label scoring close to the best. */
      labels: z.array(z.string()),
      scores: z.array(z.object({ name: z.string(), score: z.number() })),
      /** With a language model: why, in one line. */
      reason: z.string().optional(),
    }),
  ),
});

export const SummarizeResult = z.object({
  usage: LlmUsage.optional(),
  type: z.literal('summarize'),
  method: AnalysisMethod,
  summary: z.string(),
  citations: z.array(Citation),
});

export const AnswerResult = z.object({
  usage: LlmUsage.optional(),
  type: z.literal('answer'),
  method: AnalysisMethod,
  question: z.string(),
  /** Null when nothing in the documents answers it. */
  answer: z.string().nullable(),
  citations: z.array(Citation),
});

export const ReportResult = z.object({
  usage: LlmUsage.optional(),
  type: z.literal('report'),
  method: AnalysisMethod,
  question: z.string(),
  /** Candidate documents by relevance, best first, each with the passages that made it relevant. */
  documents: z.array(
    z.object({
      documentId: z.uuid(),
      filename: z.string(),
      score: z.number(),
      /** With a language model: why the document is (not) relevant, in one line. */
      reason: z.string().optional(),
      citations: z.array(Citation),
    }),
  ),
  report: z.string(),
});

export const ExtractResult = z.object({
  usage: LlmUsage.optional(),
  type: z.literal('extract'),
  method: AnalysisMethod,
  results: z.array(z.object({ documentId: z.uuid(), filename: z.string(), output: z.unknown() })),
});

export const AnalysisResult = z.discriminatedUnion('type', [
  ClassifyResult,
  SummarizeResult,
  AnswerResult,
  ReportResult,
  ExtractResult,
]);
export type AnalysisResult = z.infer<typeof AnalysisResult>;

/** Labels to classify each uploaded document by once it is indexed (`classify` on POST /v1/documents). */
export const UploadClassification = z.strictObject({
  labels: z
    .array(Label)
    .min(2, 'give at least two labels')
    .max(50)
    .refine((l) => new Set(l.map((x) => x.name)).size === l.length, 'label names must differ'),
  multiLabel: z.boolean().default(false),
});
export type UploadClassification = z.infer<typeof UploadClassification>;

/** What an ingest job was asked to do besides indexing (stored on the job). */
export const IngestJobOptions = z.object({ classify: UploadClassification.optional() });
export type IngestJobOptions = z.infer<typeof IngestJobOptions>;

/** A document's classification, made when it was indexed. */
export const DocumentClassification = z.object({
  method: AnalysisMethod,
  labels: z.array(z.string()),
  scores: z.array(z.object({ name: z.string(), score: z.number() })),
  /** With a language model: why, in one line, and what the call cost. */
  reason: z.string().optional(),
  usage: LlmUsage.optional(),
});
export type DocumentClassification = z.infer<typeof DocumentClassification>;

/** The local model's id, as stored with every vector it made (LocalUseEmbeddingProvider). */
export const LOCAL_EMBEDDING_MODEL = 'use-lite-512';

/** `POST /v1/reindex`: move the tenant's chunks to this model (default: the one the workers embed with). */
export const ReindexRequest = z.strictObject({ model: z.string().trim().min(1).max(200).optional() });
export type ReindexRequest = z.infer<typeof ReindexRequest>;

/** A re-embed job's request as stored on the job: the model resolved. */
export const ReindexInput = z.strictObject({ type: z.literal('reindex'), model: z.string().min(1) });
export type ReindexInput = z.infer<typeof ReindexInput>;

export const ReindexResult = z.object({
  type: z.literal('reindex'),
  /** The model the tenant's chunks are under now. */
  model: z.string(),
  /** The models they were moved from. */
  fromModels: z.array(z.string()),
  documents: z.number().int(),
  chunks: z.number().int(),
  /** Tokens a remote embedding model counted for the move (absent for the local model). */
  tokens: z.number().int().optional(),
});
export type ReindexResult = z.infer<typeof ReindexResult>;

/** What the analysis worker's jobs store as their request, and as their result. */
export const WorkerJobInput = z.union([AnalysisRequest, ReindexInput]);
export type WorkerJobInput = z.infer<typeof WorkerJobInput>;
export const WorkerJobResult = z.union([AnalysisResult, ReindexResult]);
export type WorkerJobResult = z.infer<typeof WorkerJobResult>;
