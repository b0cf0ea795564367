import { z } from 'zod';

export const JobStatus = z.enum([
  'queued',
  'running',
  'succeeded',
  'completed_with_failures',
  'failed',
  'cancelled',
]);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = [
  'succeeded',
  'completed_with_failures',
  'failed',
  'cancelled',
];
export const isTerminalJobStatus = (s: JobStatus): boolean => TERMINAL_JOB_STATUSES.includes(s);

/** `reindex` moves a tenant's chunks to another embedding model; it runs on the analysis worker like `analyze`. */
export const JobType = z.enum(['ingest', 'analyze', 'reindex']);
export type JobType = z.infer<typeof JobType>;

export const JobStepName = z.enum(['ingest', 'index', 'analyze']);
export type JobStepName = z.infer<typeof JobStepName>;

/** A document's own life inside a job; a job's final status is derived from its documents'. */
export const DocumentStatus = z.enum([
  'queued',
  'extracting',
  'extracted',
  'indexing',
  'indexed',
  'failed',
  'cancelled',
]);
export type DocumentStatus = z.infer<typeof DocumentStatus>;
export const TERMINAL_DOCUMENT_STATUSES: readonly DocumentStatus[] = ['indexed', 'failed', 'cancelled'];

/**
 * What a document's bytes are, judged from the bytes alone. The first group has a parser; `zip`, `ole2`
 * (legacy Office and Outlook files) and `unknown` are named so a refusal can say what was refused.
 */
export const DetectedType = z.enum([
  'pdf',
  'text',
  'markdown',
  'html',
  'csv',
  'docx',
  'pptx',
  'xlsx',
  'odt',
  'ods',
  'odp',
  'rtf',
  'eml',
  'epub',
  'png',
  'jpeg',
  'tiff',
  'webp',
  'bmp',
  'gif',
  'zip',
  'ole2',
  'unknown',
]);
export type DetectedType = z.infer<typeof DetectedType>;

/** Raster formats: their text comes from OCR. */
export const IMAGE_TYPES: readonly DetectedType[] = ['png', 'jpeg', 'tiff', 'webp', 'bmp', 'gif'];

/** How a page's text was obtained: a PDF's text layer, OCR of a rendered page or image, or a format parser. */
export const PageMethod = z.enum(['text_layer', 'ocr', 'parsed']);
export type PageMethod = z.infer<typeof PageMethod>;

/** Where a document came from. */
export const DocumentSource = z.enum(['upload', 'url', 'crawl', 'attachment']);
export type DocumentSource = z.infer<typeof DocumentSource>;

/** The phases an analysis job reports its progress in (`report`: retrieving → scoring → writing). */
export const AnalysisPhase = z.enum([
  'retrieving',
  'scoring',
  'classifying',
  'summarizing',
  'answering',
  'writing',
]);
export type AnalysisPhase = z.infer<typeof AnalysisPhase>;

export const JobProgress = z.object({
  step: z.union([JobStepName, AnalysisPhase]),
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  message: z.string().optional(),
  /** What the step is at (an analysis: the document being scored). */
  details: z.string().optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;
