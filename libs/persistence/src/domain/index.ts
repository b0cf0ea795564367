export * from './job-rules';
export * from './event-rules';
