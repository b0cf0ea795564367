export * from './job-rules';
