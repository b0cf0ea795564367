export * from './errors';
export * from './ids';
export * from './jobs';
export * from './catalogue';
