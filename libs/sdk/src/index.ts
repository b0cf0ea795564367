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
export type { components, operations, paths } from './generated/openapi';
import type { components } from './generated/openapi';
/** The API's named schemas (`Schemas['JobDetail']`, `Schemas['SearchResponse']`, …), generated from the document. */
export type Schemas = components['schemas'];
