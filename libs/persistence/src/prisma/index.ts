export { createPrismaClient } from './create-prisma-client';
export type { CreatePrismaClientOptions } from './create-prisma-client';
export { DocumentStatus, JobStatus, Prisma, PrismaClient } from '../generated/prisma/client';
export type {
  ApiKey,
  Chunk,
  Document,
  Job,
  JobEvent,
  JobStep,
  Outbox,
  Page,
  Tenant,
} from '../generated/prisma/client';
export { isDatabaseUnavailable } from './database-errors';
