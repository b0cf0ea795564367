import 'reflect-metadata';
import { Controller, Get, Post } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { Reflector } from '@nestjs/core';
import { QuarryError } from '@quarry/contracts';
import { gcraRate } from './rate-limiter';
import { describeRoutes } from './route-scopes';
import { assertGrantable, holdsScope, Public, RequireScope } from './scopes';

describe('holdsScope', () => {
  it('is membership: scopes are a set, admin does not imply read or write', () => {
    expect(holdsScope(['read', 'write'], 'write')).toBe(true);
    expect(holdsScope(['admin'], 'read')).toBe(false);
    expect(holdsScope(['read'], 'admin')).toBe(false);
    expect(holdsScope([], 'read')).toBe(false);
  });
});

describe('assertGrantable', () => {
  it('lets an admin key grant any scopes', () => {
    expect(() => assertGrantable(['admin'], ['read', 'write', 'admin'])).not.toThrow();
  });

  it('lets any other key grant only scopes it holds', () => {
    expect(() => assertGrantable(['read', 'write'], ['read'])).not.toThrow();
    let error: unknown;
    try {
      assertGrantable(['read'], ['read', 'write']);
    } catch (e) {
      error = e;
    }
    expect(QuarryError.is(error, 'insufficient_scope')).toBe(true);
    expect((error as QuarryError).message).toContain('write');
  });
});

describe('gcraRate', () => {
  it('turns a rate per minute and a burst into an interval and a tolerance', () => {
    expect(gcraRate(600, 100)).toEqual({ intervalMs: 100, toleranceMs: 10_000 });
    expect(gcraRate(60, 1)).toEqual({ intervalMs: 1000, toleranceMs: 1000 });
  });

  it('is off at 0 requests a minute', () => {
    expect(gcraRate(0, 100)).toBeNull();
  });
});

describe('describeRoutes', () => {
  @Controller('v1/things')
  class ThingsController {
    @Get()
    @RequireScope('read')
    list() {}

    @Post(':id/poke')
    poke() {}

    helper() {}
  }

  @Controller('v1/admin')
  @RequireScope('admin')
  class AdminController {
    @Get()
    show() {}

    @Post()
    @RequireScope('write')
    act() {}
  }

  @Controller()
  @Public()
  class ProbeController {
    @Get('healthz')
    health() {}
  }

  @Controller()
  class MessageHandlers {
    @MessagePattern('quarry.dlq.>')
    record() {}
  }

  const routes = describeRoutes(
    [ThingsController, AdminController, ProbeController, MessageHandlers],
    new Reflector(),
  );

  it('lists every HTTP route with the scope it needs, the method’s over its controller’s', () => {
    expect(routes.map((r) => [r.method, r.path, r.access])).toEqual([
      ['GET', '/healthz', 'public'],
      ['GET', '/v1/admin', 'admin'],
      ['POST', '/v1/admin', 'write'],
      ['GET', '/v1/things', 'read'],
      ['POST', '/v1/things/:id/poke', null],
    ]);
  });

  it('finds a route that declares no scope (the guard refuses it, the route walk fails on it)', () => {
    expect(routes.filter((r) => r.access === null)).toEqual([
      {
        method: 'POST',
        path: '/v1/things/:id/poke',
        controller: 'ThingsController',
        handler: 'poke',
        access: null,
      },
    ]);
  });
});
