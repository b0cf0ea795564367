import type {
  DetectedType,
  DocumentStatus,
  ErrorInfo,
  JobProgress,
  JobStatus,
  Lane,
} from '@quarry/contracts';

export interface OutboxInsert {
  tenantId: string | null;
  jobId: string | null;
  subject: string;
  msgId: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface OutboxRow extends OutboxInsert {
  id: string;
  /**
   * Only on the row of a job's final event, and never stored: the job the transaction that returned
   * this row finished, so its caller counts it (metrics) once, in the process that finished it.
   */
  finishedJob?: FinishedJob;
}

/** A job that reached its final status (succeeded, completed_with_failures, failed, cancelled). */
export interface FinishedJob {
  jobId: string;
  type: string;
  status: JobStatus;
  /** When the job was accepted. */
  createdAt: Date;
  finishedAt: Date;
}

export interface DocumentView {
  id: string;
  jobId: string;
  filename: string;
  status: DocumentStatus;
  error: ErrorInfo | null;
  sha256: string;
  sizeBytes: number;
  detectedType: DetectedType | null;
  pageCount: number | null;
  chunkCount: number | null;
  createdAt: Date;
}

export interface JobView {
  id: string;
  tenantId: string;
  type: string;
  lane: Lane;
  status: JobStatus;
  progress: JobProgress | Record<string, never>;
  attempts: number;
  error: ErrorInfo | null;
  traceId: string | null;
  idempotencyKey: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The job this one retries (a retry of failed documents or a dead letter's replay). */
  retryOfJobId: string | null;
  documents: DocumentView[];
}

export interface NewDocument {
  id: string;
  filename: string;
  claimedContentType: string | null;
  sha256: string;
  sizeBytes: number;
  blobKey: string;
}

export interface NewIngestJob {
  id: string;
  tenantId: string;
  /** Defaults to interactive. */
  lane?: Lane;
  idempotencyKey: string | null;
  traceparent: string;
  traceId: string | null;
  documents: NewDocument[];
  outbox: OutboxInsert[];
}

/** A worker's view of the document it was asked to work on. */
export interface DocumentWork {
  documentId: string;
  tenantId: string;
  jobId: string;
  filename: string;
  blobKey: string;
  sha256: string;
  traceparent: string | null;
}

/** Why a worker should not (or no longer) work on a document; all of these end in an ack. */
export type SkipReason = 'not_found' | 'job_finished' | 'already_done';

export type Claim<T> = { claimed: true; work: T } | { claimed: false; reason: SkipReason };

export interface PageInput {
  pageNumber: number;
  text: string;
}

export interface ChunkInput {
  pageNumber: number;
  ordinal: number;
  text: string;
  tokenCount: number;
  charStart: number;
  charEnd: number;
  embedding: Float32Array;
}

export interface SearchHitRow {
  chunkId: string;
  documentId: string;
  filename: string;
  pageNumber: number;
  text: string;
  score: number;
}
