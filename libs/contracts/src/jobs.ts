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

export const JobType = z.enum(['ingest', 'analyze']);
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

export const DetectedType = z.enum([
  'pdf',
  'text',
  'markdown',
  'html',
  'docx',
  'png',
  'jpeg',
  'tiff',
  'unknown',
]);
export type DetectedType = z.infer<typeof DetectedType>;

export const JobProgress = z.object({
  step: JobStepName,
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  message: z.string().optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;
