export * from './job-rules';
export * from './event-rules';
export * from './job-liveness';
