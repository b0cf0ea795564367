import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { LOGGER, type Logger } from './logger';
import type { QuarryMetrics } from './metrics';
import { Readiness } from './readiness';

/**
 * The process's one `QuarryMetrics`, made at boot (the worker's ops server renders it too). Not
 * `METRICS`: that name is the catalogue's.
 */
export const QUARRY_METRICS = Symbol('QUARRY_METRICS');

/**
 * Makes the boot-time config, root logger and metrics injectable everywhere, without each module
 * re-reading them, plus the `Readiness` checks libraries add to.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, logger: Logger, metrics: QuarryMetrics): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
        { provide: QUARRY_METRICS, useValue: metrics },
        { provide: Readiness, useValue: new Readiness() },
      ],
      exports: [APP_CONFIG, LOGGER, QUARRY_METRICS, Readiness],
    };
  }
}
