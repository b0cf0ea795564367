export * from './boot';
export * from './core.module';
export * from './logger';
export * from './metrics';
export * from './ops-server';
export * from './readiness';
export * from './trace-context';
