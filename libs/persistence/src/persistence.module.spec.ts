import 'reflect-metadata';
import { Global, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG, loadConfig } from '@quarry/config';
import { PersistenceModule, SEARCH_PRISMA } from './persistence.module';
import {
  AFTER_COMMIT,
  ChunksRepository,
  ExtractionRepository,
  IndexingRepository,
  JobControlRepository,
  type AfterCommit,
  type Committed,
} from './repositories';

// The after-commit port is wired once, by PersistenceModule.forRoot, and never defaulted.

@Injectable()
class Port implements AfterCommit {
  committed(_what: Committed): Promise<void> {
    return Promise.resolve();
  }
}

/** What the apps' other modules give PersistenceModule: the configuration (no database is reached). */
@Global()
@Module({
  providers: [
    {
      provide: APP_CONFIG,
      useValue: loadConfig({ DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' }),
    },
  ],
  exports: [APP_CONFIG],
})
class ConfigModule {}

describe('PersistenceModule.forRoot', () => {
  it('refuses to be wired without an after-commit port', () => {
    expect(() => PersistenceModule.forRoot({} as never)).toThrow(/afterCommit/);
  });

  it('hands the repositories the app’s port, the one AFTER_COMMIT names', async () => {
    @Global()
    @Module({ providers: [Port], exports: [Port] })
    class PortModule {}
    const app = await Test.createTestingModule({
      imports: [ConfigModule, PortModule, PersistenceModule.forRoot({ afterCommit: Port })],
    }).compile();
    try {
      expect(app.get(AFTER_COMMIT)).toBe(app.get(Port));
      for (const Repository of [ExtractionRepository, IndexingRepository, JobControlRepository]) {
        expect(app.get(Repository)).toBeInstanceOf(Repository);
      }
    } finally {
      await app.close();
    }
  });

  it('fails the boot when the port it names is provided nowhere', async () => {
    await expect(
      Test.createTestingModule({
        imports: [ConfigModule, PersistenceModule.forRoot({ afterCommit: Port })],
      }).compile(),
    ).rejects.toThrow(/AFTER_COMMIT|Port/);
  });

  it('gives the search repository and its pool only to a process that answers searches', async () => {
    @Global()
    @Module({ providers: [Port], exports: [Port] })
    class PortModule {}
    const boot = (searches: boolean) =>
      Test.createTestingModule({
        imports: [ConfigModule, PortModule, PersistenceModule.forRoot({ afterCommit: Port, searches })],
      }).compile();
    const searching = await boot(true);
    const other = await boot(false);
    try {
      expect(searching.get(ChunksRepository)).toBeInstanceOf(ChunksRepository);
      expect(searching.get<symbol, unknown>(SEARCH_PRISMA)).toBeDefined();
      expect(() => other.get(ChunksRepository)).toThrow();
      expect(() => other.get<symbol, unknown>(SEARCH_PRISMA)).toThrow();
    } finally {
      await Promise.all([searching.close(), other.close()]);
    }
  });
});
