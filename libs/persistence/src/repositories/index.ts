export * from './chunks.repository';
export * from './jobs.repository';
export * from './outbox.repository';
export * from './pipeline.repository';
export * from './types';
