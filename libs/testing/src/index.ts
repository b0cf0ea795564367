// Helpers that need Quarry's own libraries (migrations, JetStream provisioning), plus the plain kit.
export * from '@quarry/test-kit';
export * from './database';
export * from './fakes';
export * from './nats';
export * from './sse-client';
