export * from './errors';
export * from './filenames';
export * from './ids';
export * from './jobs';
export * from './catalogue';
export * from './analyses';
export * from './json-schema';
export * from './api-keys';
