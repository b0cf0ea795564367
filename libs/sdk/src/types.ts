/** The API's shapes the hand-written helpers use (the full set is in docs/openapi.json). */
export type JobStatus =
  'queued' | 'running' | 'succeeded' | 'completed_with_failures' | 'failed' | 'cancelled';

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = [
  'succeeded',
  'completed_with_failures',
  'failed',
  'cancelled',
];

export interface JobDocument {
  id: string;
  filename: string | null;
  status: string;
  error: { code: string; message: string } | null;
  [field: string]: unknown;
}

export interface Job {
  id: string;
  type: string;
  status: JobStatus;
  lane: string;
  progress: Record<string, unknown>;
  error: { code: string; message: string } | null;
  documents: JobDocument[];
  [field: string]: unknown;
}

/** A public event (docs/events.md), as streams and webhooks deliver it. */
export interface QuarryEvent {
  v: 1;
  id: string;
  type: string;
  tenantId: string;
  occurredAt: string;
  jobId?: string;
  documentId?: string;
  webhookId?: string;
  data: Record<string, unknown>;
}

/** An event read from a stream, with the id to resume after it (`Last-Event-ID`). */
export interface StreamedEvent extends QuarryEvent {
  /** The stream's id of this event: pass it as `lastEventId` to continue after it. */
  eventId: string;
}
