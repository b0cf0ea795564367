import 'reflect-metadata';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { QuarryError } from '@quarry/contracts';
import type { ApiKeyAuthenticator, TenantContext } from './api-key-authenticator';
import { ApiKeyGuard } from './api-key.guard';
import type { RateLimiter } from './rate-limiter';
import { Public, RequireScope } from './scopes';

// The guard's order and its refusal of undeclared routes, with the key lookup and the limiter faked (their
// statements are covered by the integration specs next to this one).

class Routes {
  @RequireScope('write')
  write() {}

  undeclared() {}

  @Public()
  probe() {}
}

const READER: TenantContext = { tenantId: 't', tenantName: 'acme', keyId: 'k', scopes: ['read'] };

function context(handler: keyof Routes, authorization?: string) {
  const request: Record<string, unknown> = {
    method: 'POST',
    url: '/v1/x',
    routeOptions: { url: '/v1/x' },
    headers: authorization === undefined ? {} : { authorization },
  };
  const ctx = {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  return { ctx, request };
}

function guard(principal: TenantContext = READER) {
  const calls: string[] = [];
  const authenticator = {
    authenticate: (key: string) => {
      calls.push(`authenticate ${key}`);
      return Promise.resolve(principal);
    },
  } as unknown as ApiKeyAuthenticator;
  const limiter = {
    admit: (keyId: string) => {
      calls.push(`admit ${keyId}`);
      return Promise.resolve();
    },
  } as unknown as RateLimiter;
  return { guard: new ApiKeyGuard(new Reflector(), authenticator, limiter), calls };
}

async function refusal(promise: Promise<unknown>): Promise<QuarryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QuarryError) return error;
    throw error;
  }
  throw new Error('the guard let the request through');
}

describe('ApiKeyGuard', () => {
  it('refuses a route that declares no scope to everyone, before looking at the key', async () => {
    const { guard: g, calls } = guard({ ...READER, scopes: ['read', 'write', 'admin'] });
    const error = await refusal(g.canActivate(context('undeclared', 'Bearer key').ctx));
    expect(error.code).toBe('internal');
    expect(error.message).toContain('POST /v1/x declares no scope');
    expect(calls).toEqual([]);
  });

  it('lets public routes through without a key, a lookup or the limiter', async () => {
    const { guard: g, calls } = guard();
    await expect(g.canActivate(context('probe').ctx)).resolves.toBe(true);
    expect(calls).toEqual([]);
  });

  it('refuses a key without the scope with 403 insufficient_scope, and does not spend its rate on it', async () => {
    const { guard: g, calls } = guard();
    const error = await refusal(g.canActivate(context('write', 'Bearer key').ctx));
    expect(error.code).toBe('insufficient_scope');
    expect(error.details).toEqual({ requiredScope: 'write' });
    expect(calls).toEqual(['authenticate key']);
  });

  it('admits a key with the scope after the limiter, and puts its tenant on the request', async () => {
    const writer = { ...READER, scopes: ['write'] as const };
    const { guard: g, calls } = guard(writer);
    const { ctx, request } = context('write', 'Bearer key');
    await expect(g.canActivate(ctx)).resolves.toBe(true);
    expect(calls).toEqual(['authenticate key', 'admit k']);
    expect(request['tenant']).toBe(writer);
  });
});
