import {
  createParamDecorator,
  Injectable,
  SetMetadata,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { QuarryError } from '@quarry/contracts';
import { hashApiKey, TenantsRepository } from '@quarry/persistence';
import type { FastifyRequest } from 'fastify';

export interface TenantContext {
  tenantId: string;
  tenantName: string;
}

type AuthedRequest = FastifyRequest & { tenant?: TenantContext };

const PUBLIC_ROUTE = 'quarry:public';
/** Health probes and metrics answer without an API key. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** The caller's tenant, set by the guard; every repository call takes it. */
export const CurrentTenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantContext => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new QuarryError('unauthorized', 'no tenant on request');
  return tenant;
});

const CACHE_TTL_MS = 30_000;

@Injectable()
export class ApiKeyGuard implements CanActivate {
  // Keyed by the key's hash, so no key is held in memory. Only known keys are cached: a key created a
  // moment ago works at once, and a revoked one stops working within the TTL.
  private readonly cache = new Map<string, { tenant: TenantContext; until: number }>();

  constructor(
    private readonly reflector: Reflector,
    private readonly tenants: TenantsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new QuarryError('unauthorized', 'missing API key: send "Authorization: Bearer <api key>"');
    }
    const tenant = await this.lookup(match[1]);
    if (!tenant) throw new QuarryError('unauthorized', 'unknown or revoked API key');
    request.tenant = tenant;
    return true;
  }

  private async lookup(key: string): Promise<TenantContext | null> {
    const now = Date.now();
    const cacheKey = hashApiKey(key);
    const hit = this.cache.get(cacheKey);
    if (hit && hit.until > now) return hit.tenant;
    const tenant = await this.tenants.findByApiKey(key);
    if (tenant) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(cacheKey, { tenant, until: now + CACHE_TTL_MS });
    }
    return tenant;
  }
}
