import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { topology } from '@quarry/contracts';
import type { PrismaClient } from './generated/prisma/client';
import { createPrismaClient } from './prisma';
import {
  ChunksRepository,
  CrawlsRepository,
  JobsRepository,
  OutboxRepository,
  PipelineRepository,
  TenantsRepository,
} from './repositories';

export const PRISMA = Symbol('PRISMA');

class PrismaLifecycle implements OnApplicationShutdown {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
  }
}

/** One Prisma client per process, closed on shutdown; repositories are plain classes over it. */
@Global()
@Module({
  providers: [
    {
      provide: PRISMA,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        createPrismaClient({ databaseUrl: config.database.url, poolMax: config.database.poolMax }),
    },
    PrismaLifecycle,
    { provide: JobsRepository, inject: [PRISMA], useFactory: (p: PrismaClient) => new JobsRepository(p) },
    {
      provide: TenantsRepository,
      inject: [PRISMA],
      useFactory: (p: PrismaClient) => new TenantsRepository(p),
    },
    { provide: OutboxRepository, inject: [PRISMA], useFactory: (p: PrismaClient) => new OutboxRepository(p) },
    { provide: ChunksRepository, inject: [PRISMA], useFactory: (p: PrismaClient) => new ChunksRepository(p) },
    {
      provide: PipelineRepository,
      inject: [PRISMA, APP_CONFIG],
      useFactory: (p: PrismaClient, c: AppConfig) => new PipelineRepository(p, topology(c.namespace)),
    },
    {
      provide: CrawlsRepository,
      inject: [PRISMA, APP_CONFIG],
      useFactory: (p: PrismaClient, c: AppConfig) => new CrawlsRepository(p, topology(c.namespace)),
    },
  ],
  exports: [
    PRISMA,
    JobsRepository,
    TenantsRepository,
    OutboxRepository,
    ChunksRepository,
    PipelineRepository,
    CrawlsRepository,
  ],
})
export class PersistenceModule {}
