import { Inject, Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_GUARD, ModulesContainer, Reflector } from '@nestjs/core';
import { LOGGER, type Logger } from '@quarry/telemetry';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeysController } from './api-keys.controller';
import { RateLimiter } from './rate-limiter';
import { describeRoutes, registeredControllers } from './route-scopes';

/**
 * Says at boot which routes declare no scope. They already answer 500 to everyone (the guard fails closed) and the
 * route walk in CI fails on them; the log names them for whoever sees the 500s first. Not a refusal to boot: one
 * unfinished route should not take every other route down with it.
 */
@Injectable()
class UnscopedRoutesReport implements OnApplicationBootstrap {
  constructor(
    private readonly modules: ModulesContainer,
    private readonly reflector: Reflector,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const unscoped = describeRoutes(registeredControllers(this.modules), this.reflector).filter(
      (r) => r.access === null,
    );
    if (unscoped.length > 0) {
      this.logger.error(
        { routes: unscoped.map((r) => `${r.method} ${r.path}`) },
        'routes without @RequireScope or @Public answer 500 to every caller',
      );
    }
  }
}

/**
 * API keys: the guard every route passes (key, scope, rate), the keys' own routes, and the cache that makes a
 * revocation count everywhere within a second (ADR 31).
 */
@Module({
  controllers: [ApiKeysController],
  providers: [
    ApiKeyAuthenticator,
    RateLimiter,
    UnscopedRoutesReport,
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
})
export class AuthModule {}
