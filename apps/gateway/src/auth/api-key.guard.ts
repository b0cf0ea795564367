import { createParamDecorator, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { QuarryError, type ApiKeyScope } from '@quarry/contracts';
import type { FastifyRequest } from 'fastify';
import { ApiKeyAuthenticator, type TenantContext } from './api-key-authenticator';
import { RateLimiter } from './rate-limiter';
import { holdsScope, PUBLIC_ROUTE, REQUIRED_SCOPE } from './scopes';

export type { TenantContext } from './api-key-authenticator';
export { Public, RequireScope } from './scopes';

type AuthedRequest = FastifyRequest & { tenant?: TenantContext };

/** The caller's tenant, set by the guard; every repository call takes it. */
export const CurrentTenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantContext => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new QuarryError('unauthorized', 'no tenant on request');
  return tenant;
});

/**
 * Every route but the public ones: the key (401), the route's scope (403), the key's rate (429), in that order, before
 * any input is read. Fails closed: a route that declares no scope is refused to everyone.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const required = this.reflector.getAllAndOverride<ApiKeyScope | undefined>(REQUIRED_SCOPE, targets);
    if (!required) {
      // A programming error, not the caller's: 500 with an errorId, the route named in the log only.
      throw new QuarryError(
        'internal',
        `route ${request.method} ${request.routeOptions.url ?? request.url} declares no scope`,
      );
    }
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new QuarryError('unauthorized', 'missing API key: send "Authorization: Bearer <api key>"');
    }
    const tenant = await this.authenticator.authenticate(match[1]);
    if (!holdsScope(tenant.scopes, required)) {
      throw new QuarryError(
        'insufficient_scope',
        `this API key lacks the "${required}" scope this route needs`,
        {
          details: { requiredScope: required },
        },
      );
    }
    // After the scope: a refused request costs no statement, so a key without the scope cannot load the database.
    await this.limiter.admit(tenant.keyId);
    request.tenant = tenant;
    return true;
  }
}
