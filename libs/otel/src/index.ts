// Loaded by each app's `instrument.ts` before anything it instruments (http, fastify, Nest, pg,
// Prisma): keep this library free of those imports, or they are loaded unpatched.
export * from './sampler';
export * from './start-tracing';
