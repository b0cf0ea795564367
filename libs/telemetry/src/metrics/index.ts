export * from './catalogue';
export * from './quarry-metrics';
