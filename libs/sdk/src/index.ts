export {
  QuarryClient,
  type JobProgress,
  type QuarryClientOptions,
  type UploadInput,
  type UploadOptions,
} from './client';
export { QuarryApiError, type ApiErrorBody } from './errors';
export { readEventStream, type EventStreamOptions } from './events';
export { verifyWebhook } from './webhooks';
export {
  TERMINAL_JOB_STATUSES,
  type Job,
  type JobDocument,
  type JobStatus,
  type QuarryEvent,
  type StreamedEvent,
} from './types';
