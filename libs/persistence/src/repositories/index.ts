export * from './chunks.repository';
export * from './dead-letters.repository';
export * from './jobs.repository';
export * from './maintenance.repository';
export * from './outbox.repository';
export * from './pipeline.repository';
export * from './types';
