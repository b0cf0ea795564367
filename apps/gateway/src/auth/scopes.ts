import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { QuarryError, type ApiKeyScope } from '@quarry/contracts';
import { ApiErrors, AUTHENTICATED_ROUTE_ERRORS } from '../http/openapi';

export const PUBLIC_ROUTE = 'quarry:public';
export const REQUIRED_SCOPE = 'quarry:required-scope';

/** Health probes and metrics answer without an API key, and are not rate limited. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The scope a key must hold to call the route (ADR 31). Every route that is not `@Public()` needs one, on the method
 * or on its controller (the method's wins): a route without either answers 500 and fails the route walk in
 * routes-scopes.int-spec.ts. It also says so in the OpenAPI document (`x-quarry-scope`), with the errors every
 * authenticated request may meet (401, 403 insufficient_scope, 429 rate_limited, …: AUTHENTICATED_ROUTE_ERRORS).
 */
export const RequireScope = (scope: ApiKeyScope) =>
  applyDecorators(
    SetMetadata(REQUIRED_SCOPE, scope),
    ApiExtension('x-quarry-scope', scope),
    ApiErrors(...AUTHENTICATED_ROUTE_ERRORS),
  );

/** Scopes are a set, not a ladder: holding admin does not mean holding read. */
export const holdsScope = (held: readonly ApiKeyScope[], required: ApiKeyScope): boolean =>
  held.includes(required);

/**
 * A key may only give a new key scopes it holds itself, so a key can never mint a more powerful one. Admin alone
 * grants any: an admin key could revoke and re-create every key of its tenant anyway, so a subset rule would only
 * add a step, not a boundary.
 */
export function assertGrantable(held: readonly ApiKeyScope[], requested: readonly ApiKeyScope[]): void {
  if (held.includes('admin')) return;
  const missing = requested.filter((s) => !held.includes(s));
  if (missing.length > 0) {
    throw new QuarryError(
      'insufficient_scope',
      `a key cannot grant scopes it does not hold: ${missing.join(', ')}`,
      { details: { requiredScope: missing[0] } },
    );
  }
}
