export * from './database';
export * from './documents';
export * from './nats';
export * from './processes';
export * from './prometheus-text';
export * from './wait-for';
export * from './otlp-receiver';
export * from './quarry-failure';
