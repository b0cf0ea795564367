// What other features use: the scope every route declares, the public marker, and the caller's tenant.
export { CurrentTenant } from './api-key.guard';
export type { TenantContext } from './api-key-authenticator';
export { Public, RequireScope } from './scopes';
