import type {
  CommandName,
  DocumentClassification,
  IngestJobOptions,
  UploadClassification,
  WorkerJobInput,
  WorkerJobResult,
} from '@quarry/contracts';
import type {
  DetectedType,
  DocumentSource,
  DocumentStatus,
  ErrorInfo,
  JobProgress,
  JobStatus,
  Lane,
  PageMethod,
} from '@quarry/contracts';

export interface OutboxInsert {
  tenantId: string | null;
  jobId: string | null;
  /** A command row's command and generation (see commandEnvelope); events have neither. */
  command?: CommandName;
  generation?: number;
  subject: string;
  msgId: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface OutboxRow extends OutboxInsert {
  id: string;
}

/**
 * A job that reached its final status (succeeded, completed_with_failures, failed, cancelled): what the repository
 * whose commit ended it hands to the after-commit port, so the process that ended it counts it once.
 */
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
  /** Null until the bytes exist (a URL document before its fetch). */
  sha256: string | null;
  sizeBytes: number | null;
  detectedType: DetectedType | null;
  pageCount: number | null;
  chunkCount: number | null;
  source: DocumentSource;
  sourceUrl: string | null;
  finalUrl: string | null;
  httpStatus: number | null;
  metadata: Record<string, unknown>;
  tags: string[];
  /** Detected at indexing (ISO 639-3); null before, or when the text was too short to tell. */
  language: string | null;
  /** The labels an upload's `classify` gave the document at indexing. */
  labels: DocumentClassification | null;
  title: string | null;
  parentDocumentId: string | null;
  depth: number;
  lowConfidencePages: number[];
  createdAt: Date;
}

/** A page as stored, with how its text was obtained. */
export interface PageView {
  pageNumber: number;
  text: string;
  method: PageMethod;
  ocrConfidence: number | null;
  label: string | null;
  sections: { offset: number; path: string[] }[];
}

/** One step of a job (ingest, index, or an analysis's own): how far it got and when it ran. */
export interface JobStepView {
  name: string;
  status: string;
  done: number;
  total: number;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
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
  /** A crawl's job while the crawler may still deliver pages: it cannot finish before the crawl ends. */
  acceptingDocuments: boolean;
  documents: DocumentView[];
  /** An analysis job's request, an ingest job's options; an analysis's result once it succeeded. */
  input: WorkerJobInput | IngestJobOptions | null;
  result: WorkerJobResult | null;
}

export interface NewDocument {
  id: string;
  filename: string;
  claimedContentType: string | null;
  /** Null for a URL document: the ingest worker fetches the bytes. */
  sha256: string | null;
  sizeBytes: number | null;
  blobKey: string;
  /** Defaults to upload. */
  source?: DocumentSource;
  sourceUrl?: string | null;
  httpStatus?: number | null;
  metadata?: Record<string, unknown>;
  tags?: string[];
  title?: string | null;
  /** A document that is already decided at creation (a crawler's failed page); no command is sent for it. */
  failed?: ErrorInfo;
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
  /** A crawl's job: open for the crawler's later deliveries. */
  acceptingDocuments?: boolean;
  crawlRef?: string | null;
  /** What the job was asked to do besides indexing (classify on upload). */
  options?: IngestJobOptions;
}

/** A worker's view of the document it was asked to work on. */
export interface DocumentWork {
  documentId: string;
  tenantId: string;
  jobId: string;
  filename: string;
  blobKey: string;
  /** Null while a URL document's bytes have not been fetched. */
  sha256: string | null;
  traceparent: string | null;
  source: DocumentSource;
  sourceUrl: string | null;
  claimedContentType: string | null;
  depth: number;
  /** The job as the claim read it under the job's lock; absent where a work item was not made by a claim. */
  job?: ClaimedJob;
}

/** What a claim read of a document's job, for the step's completion to prepare the job's ending (ADR 26). */
export interface ClaimedJob {
  type: string;
  traceId: string | null;
  /** Documents the claimed step counted when the claim ran. */
  stepTotal: number;
  /** The labels the upload asked each document to be classified by, if it did. */
  classify?: UploadClassification;
}

/** What a URL fetch found, recorded on the document before it is parsed. */
export interface FetchRecord {
  sha256: string;
  sizeBytes: number;
  finalUrl: string;
  httpStatus: number;
  contentType: string | null;
}

/** A document found inside another (an e-mail attachment), its bytes already stored. */
export interface NewChildDocument {
  /** Deterministic (parent and position), so a redelivered parent inserts each child once. */
  id: string;
  filename: string;
  claimedContentType: string | null;
  sha256: string;
  sizeBytes: number;
  blobKey: string;
  /** Set when the child is refused at birth (nested too deeply): stored failed, never parsed. */
  failed?: ErrorInfo;
}

/** The result of extracting one document, as the ingest step stores it. */
export interface ExtractionResult {
  detectedType: DetectedType;
  pages: PageInput[];
  title?: string | null;
  lowConfidencePages?: number[];
  /** The parser version and settings the pages were made under (reuse needs the same); null: never reused. */
  extractionKey?: string | null;
  children?: NewChildDocument[];
}

/** Why a worker should not (or no longer) work on a document; all of these end in an ack. */
export type SkipReason = 'not_found' | 'job_finished' | 'already_done';

export type Claim<T> = { claimed: true; work: T } | { claimed: false; reason: SkipReason };

export interface PageInput {
  pageNumber: number;
  text: string;
  method?: PageMethod;
  ocrConfidence?: number | null;
  label?: string | null;
  sections?: { offset: number; path: string[] }[];
}

/**
 * The language detected in a document's text and the PostgreSQL text-search configuration its chunks are indexed
 * with (one of the built-in snowball configurations, or 'simple').
 */
export interface TextLanguage {
  language: string | null;
  config: string;
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
  sectionPath: string[];
  text: string;
  score: number;
  vectorScore: number | null;
  keywordScore: number | null;
  highlights: { start: number; end: number }[];
}
