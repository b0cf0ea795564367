export * from './boot';
export * from './core.module';
export * from './logger';
export * from './trace-context';
