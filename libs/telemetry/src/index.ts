export * from './logger';
export * from './trace-context';
export * from './core.module';
