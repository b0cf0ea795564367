import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type InjectionToken,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { topology } from '@quarry/contracts';
import type { PrismaClient } from './generated/prisma/client';
import { createPrismaClient } from './prisma';
import {
  AFTER_COMMIT,
  AnalysesRepository,
  ApiKeysRepository,
  ChunksRepository,
  createSearchPrismaClient,
  CrawlsRepository,
  DeadLettersRepository,
  JobsRepository,
  MaintenanceRepository,
  ExtractionRepository,
  IndexingRepository,
  JobControlRepository,
  OutboxRepository,
  RateLimitsRepository,
  TenantsRepository,
  UsageRepository,
  EventsRepository,
  WebhooksRepository,
  type AfterCommit,
  type SearchPrismaClient,
} from './repositories';

export const PRISMA = Symbol('PRISMA');
/** The pool searches run on, its sessions set up for them (ADR 27 §12). */
export const SEARCH_PRISMA = Symbol('SEARCH_PRISMA');

export interface PersistenceModuleOptions {
  /**
   * Provider token of the app's AfterCommit implementation (@quarry/messaging's OutboxRelay): every repository
   * that writes outbox rows or ends a job hands them to it after its commit. Required: a missing one fails the boot.
   */
  afterCommit: InjectionToken;
  /**
   * Whether the process answers searches: only then does it get `ChunksRepository` and the pool it runs on
   * (`SEARCH_PRISMA`, ADR 27 §12), so the others neither build that client at boot nor can inject the repository.
   */
  searches?: boolean;
}

class PrismaLifecycle implements OnApplicationShutdown {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
  }
}

class SearchPrismaLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SEARCH_PRISMA) private readonly search: SearchPrismaClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.search.$disconnect();
  }
}

/**
 * One Prisma client per process (and, in a process that answers searches, one for them on its own pool), closed on
 * shutdown; repositories are plain classes over it, given the app's after-commit port (`AFTER_COMMIT`, exported for
 * the repositories other modules build).
 */
const searchProviders: Provider[] = [
  {
    provide: SEARCH_PRISMA,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) =>
      createSearchPrismaClient({ databaseUrl: config.database.url, poolMax: config.database.searchPoolMax }),
  },
  SearchPrismaLifecycle,
  {
    provide: ChunksRepository,
    inject: [SEARCH_PRISMA],
    useFactory: (p: SearchPrismaClient) => new ChunksRepository(p),
  },
];

@Global()
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceModuleOptions): DynamicModule {
    // A `useExisting` of undefined would only fail when a repository is first injected, with a vaguer message.
    if (!(options as Partial<PersistenceModuleOptions> | undefined)?.afterCommit) {
      throw new Error(
        'PersistenceModule.forRoot needs `afterCommit`: the provider token of the AfterCommit port',
      );
    }
    return {
      module: PersistenceModule,
      global: true,
      providers: [
        {
          provide: PRISMA,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) =>
            createPrismaClient({ databaseUrl: config.database.url, poolMax: config.database.poolMax }),
        },
        PrismaLifecycle,
        { provide: AFTER_COMMIT, useExisting: options.afterCommit },
        {
          provide: JobsRepository,
          inject: [PRISMA, AFTER_COMMIT],
          useFactory: (p: PrismaClient, a: AfterCommit) => new JobsRepository(p, a),
        },
        {
          provide: TenantsRepository,
          inject: [PRISMA],
          useFactory: (p: PrismaClient) => new TenantsRepository(p),
        },
        ...[
          ApiKeysRepository,
          RateLimitsRepository,
          UsageRepository,
          EventsRepository,
          WebhooksRepository,
        ].map((Repository) => ({
          provide: Repository,
          inject: [PRISMA],
          useFactory: (p: PrismaClient) => new Repository(p),
        })),
        {
          provide: OutboxRepository,
          inject: [PRISMA],
          useFactory: (p: PrismaClient) => new OutboxRepository(p),
        },
        ...[ExtractionRepository, IndexingRepository, JobControlRepository, AnalysesRepository].map(
          (Repository) => ({
            provide: Repository,
            inject: [PRISMA, APP_CONFIG, AFTER_COMMIT],
            useFactory: (p: PrismaClient, c: AppConfig, a: AfterCommit) =>
              new Repository(p, topology(c.namespace), a),
          }),
        ),
        {
          provide: CrawlsRepository,
          inject: [PRISMA, APP_CONFIG, AFTER_COMMIT],
          useFactory: (p: PrismaClient, c: AppConfig, a: AfterCommit) =>
            new CrawlsRepository(p, topology(c.namespace), a),
        },
        {
          provide: MaintenanceRepository,
          inject: [PRISMA, APP_CONFIG, AFTER_COMMIT],
          useFactory: (p: PrismaClient, c: AppConfig, a: AfterCommit) =>
            new MaintenanceRepository(p, topology(c.namespace), a),
        },
        {
          provide: DeadLettersRepository,
          inject: [PRISMA, AFTER_COMMIT],
          useFactory: (p: PrismaClient, a: AfterCommit) => new DeadLettersRepository(p, a),
        },
        ...(options.searches ? searchProviders : []),
      ],
      exports: [
        ...(options.searches ? [ChunksRepository] : []),
        PRISMA,
        AFTER_COMMIT,
        JobsRepository,
        TenantsRepository,
        ApiKeysRepository,
        RateLimitsRepository,
        OutboxRepository,
        UsageRepository,
        EventsRepository,
        WebhooksRepository,
        ExtractionRepository,
        IndexingRepository,
        JobControlRepository,
        AnalysesRepository,
        CrawlsRepository,
        MaintenanceRepository,
        DeadLettersRepository,
      ],
    };
  }
}
