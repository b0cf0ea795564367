import { TERMINAL_DOCUMENT_STATUSES, type DocumentStatus, type JobStatus } from '@quarry/contracts';

/** A job's progress as clients read it: what the job's documents add up to, not the last document's step. */
export interface AggregateProgress {
  /** The step the job is in: the earliest step some document still has to pass; `index` once all have. */
  step: string;
  /** Documents past `step` (indexed, failed or cancelled count as past every step). */
  done: number;
  total: number;
  /** What the worker last said it was doing (a page being read, chunks being embedded), when it said anything. */
  details?: string;
  /** Documents finished (indexed, failed or cancelled), of all the job's documents. */
  processedFiles: number;
  totalFiles: number;
}

const BEFORE_EXTRACTION: readonly DocumentStatus[] = ['queued', 'extracting'];

/**
 * The progress of an ingest job from its documents' statuses (every document counts once, whichever step it is
 * in), with the worker's last message as `details`. Other jobs (analyses) report their own progress, kept as is.
 */
export function jobProgress(job: {
  type: string;
  status: JobStatus;
  progress: Record<string, unknown>;
  documents: readonly { status: DocumentStatus }[];
}): Record<string, unknown> {
  if (job.type !== 'ingest') return job.progress;
  const statuses = job.documents.map((d) => d.status);
  const totalFiles = statuses.length;
  const processedFiles = statuses.filter((s) => TERMINAL_DOCUMENT_STATUSES.includes(s)).length;
  const extracting = statuses.filter((s) => BEFORE_EXTRACTION.includes(s)).length;
  const step = extracting > 0 ? 'ingest' : 'index';
  const done = step === 'ingest' ? totalFiles - extracting : processedFiles;
  const stored = job.progress;
  const message = typeof stored['message'] === 'string' ? stored['message'] : undefined;
  const details = typeof stored['details'] === 'string' ? stored['details'] : message;
  const progress: AggregateProgress = {
    step,
    done,
    total: totalFiles,
    processedFiles,
    totalFiles,
    ...(details !== undefined ? { details } : {}),
  };
  return { ...progress };
}
