import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { ModulesContainer, Reflector } from '@nestjs/core';
import type { ApiKeyScope } from '@quarry/contracts';
import { PUBLIC_ROUTE, REQUIRED_SCOPE } from './scopes';

/** One HTTP route and who may call it: a scope, everyone (`public`), or nobody because it declares neither (null). */
export interface RouteAccess {
  method: string;
  path: string;
  controller: string;
  handler: string;
  access: ApiKeyScope | 'public' | null;
}

/** Nest stores a path as a string or a list of them; none means the root. */
const paths = (value: unknown): string[] =>
  (Array.isArray(value) ? (value as unknown[]) : [value]).map((p) => (typeof p === 'string' ? p : ''));

function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '')
    .join('/');
  return `/${joined}`;
}

/**
 * Every HTTP route the controllers declare, read from the same metadata the router and the guard read. Message
 * handlers on the JetStream transport (controllers without HTTP methods) are not routes and are left out.
 */
export function describeRoutes(controllers: readonly Type[], reflector: Reflector): RouteAccess[] {
  const routes: RouteAccess[] = [];
  for (const controller of controllers) {
    const prefixes = paths(Reflect.getMetadata(PATH_METADATA, controller));
    const proto = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined) continue;
      const targets = [handler, controller];
      const access = reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)
        ? 'public'
        : (reflector.getAllAndOverride<ApiKeyScope | undefined>(REQUIRED_SCOPE, targets) ?? null);
      for (const prefix of prefixes) {
        for (const path of paths(Reflect.getMetadata(PATH_METADATA, handler))) {
          routes.push({
            method: RequestMethod[method],
            path: joinPath(prefix, path),
            controller: controller.name,
            handler: name,
            access,
          });
        }
      }
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** The controllers of every module of a running application. */
export function registeredControllers(modules: ModulesContainer): Type[] {
  const found = new Set<Type>();
  for (const module of modules.values()) {
    for (const wrapper of module.controllers.values())
      if (wrapper.metatype) found.add(wrapper.metatype as Type);
  }
  return [...found];
}
