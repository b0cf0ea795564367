import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyScopes, mintApiKey, QuarryError } from '@quarry/contracts';
import { ApiKeysRepository, type ApiKeyView } from '@quarry/persistence';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ApiErrors, ApiZodBody, ApiZodResponse, CREATED_HEADERS } from '../http/openapi';
import { Uuid } from '../http/request-schemas';
import { ApiKey, ApiKeyList, CreatedApiKey } from '../http/response-schemas';
import { parseInput } from '../http/validation';
import { ApiKeyAuthenticator, type TenantContext } from './api-key-authenticator';
import { CurrentTenant } from './api-key.guard';
import { assertGrantable, RequireScope } from './scopes';

const CreateApiKey = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(100),
  scopes: ApiKeyScopes,
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

/** The public shape of a key: what tells it apart and what it may do; never the secret or its hash. */
export function apiKeyResponse(k: ApiKeyView): ApiKey {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

/**
 * A tenant's admins manage its keys. Another tenant's key is 404, exactly like a key that does not exist, so ids
 * reveal nothing across tenants.
 */
@ApiTags('api keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'createApiKey',
    summary: 'Create a key for the tenant; the answer holds the key itself, shown this once',
    description:
      'Scopes: read (GET routes and search), write (uploads, changes, analyses, cancel, retry, replay), admin (keys ' +
      'and webhooks). Only its hash is stored; `prefix` tells keys apart in lists.',
  })
  @ApiZodBody(CreateApiKey, {
    example: { name: 'ci uploads', scopes: ['write'], expiresAt: '2027-06-30T00:00:00Z' },
  })
  @ApiZodResponse(201, CreatedApiKey, {
    description: 'The key, with the secret this once',
    headers: CREATED_HEADERS,
  })
  @ApiErrors('unsupported_media_type')
  async create(
    @CurrentTenant() tenant: TenantContext,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedApiKey> {
    const input = parseInput(CreateApiKey, body ?? {}, 'body');
    assertGrantable(tenant.scopes, input.scopes);
    const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new QuarryError('validation_failed', 'invalid body: expiresAt: must be in the future');
    }
    const { key, prefix } = mintApiKey();
    const created = await this.keys.create({
      tenantId: tenant.tenantId,
      name: input.name,
      key,
      prefix,
      scopes: input.scopes,
      expiresAt,
    });
    void reply.header('location', `/v1/api-keys/${created.id}`);
    return { ...apiKeyResponse(created), key };
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'listApiKeys',
    summary: "The tenant's keys, newest first, revoked and expired ones included; no secrets",
  })
  @ApiZodResponse(200, ApiKeyList, { description: 'Every key of the tenant' })
  async list(@CurrentTenant() tenant: TenantContext): Promise<ApiKeyList> {
    return { items: (await this.keys.list(tenant.tenantId)).map(apiKeyResponse) };
  }

  @Get(':id')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'getApiKey',
    summary: 'One of the tenant’s keys: name, prefix, scopes, expiry, last use, revocation',
  })
  @ApiZodResponse(200, ApiKey, { description: 'The key (never its secret)' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<ApiKey> {
    const keyId = parseInput(Uuid, id, 'API key id');
    const found = await this.keys.get(tenant.tenantId, keyId);
    if (!found) throw new QuarryError('not_found', `API key ${keyId} not found`);
    return apiKeyResponse(found);
  }

  @Delete(':id')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'revokeApiKey',
    summary: 'Revoke one of the tenant’s keys: every gateway refuses it within a second',
    description:
      'Answers the revoked key. Revoking again is harmless and keeps the first revokedAt. A key may revoke itself; ' +
      'its next request is refused.',
  })
  @ApiZodResponse(200, ApiKey, { description: 'The revoked key' })
  @ApiErrors('not_found')
  async revoke(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<ApiKey> {
    const keyId = parseInput(Uuid, id, 'API key id');
    const revoked = await this.keys.revoke(tenant.tenantId, keyId);
    if (!revoked) throw new QuarryError('not_found', `API key ${keyId} not found`);
    this.authenticator.forget(keyId);
    return apiKeyResponse(revoked);
  }
}
