import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@quarry/config';
import { EventTypePattern, QuarryError } from '@quarry/contracts';
import { WebhooksRepository, type WebhookDeliveryRow, type WebhookRow } from '@quarry/persistence';
import type { SafeFetcher } from '@quarry/safe-fetch';
import { z } from 'zod';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ApiErrors, ApiZodBody, ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { Uuid } from '../http/request-schemas';
import {
  CreatedWebhook,
  RotatedWebhook,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookDeliveryReplay,
  WebhookList,
} from '../http/response-schemas';
import { parseInput } from '../http/validation';
import { newWebhookSecret } from './webhook-signature';
import { WEBHOOK_FETCHER, WebhookSender } from './webhook-sender';

const Url = z.string().min(1).max(2000);
const Patterns = z.array(EventTypePattern).min(1).max(50);
const CreateWebhook = z
  .object({
    url: Url,
    events: Patterns,
    description: z.string().max(500).default(''),
    enabled: z.boolean().default(true),
  })
  .strict();
const UpdateWebhook = z
  .object({
    url: Url.optional(),
    events: Patterns.optional(),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one of url, events, description, enabled');
const DeliveriesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    /** The last delivery id of the previous page. */
    cursor: Uuid.optional(),
  })
  .strict();

/** The public shape of a webhook: never its secret (shown once, at creation and rotation). */
export function webhookResponse(w: WebhookRow): Webhook {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    description: w.description,
    enabled: w.enabled,
    disabledReason: w.disabledReason,
    failingSince: w.failingSince?.toISOString() ?? null,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

export function deliveryResponse(d: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    lastResponseStatus: d.lastResponseStatus,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    attemptLog: d.attemptLog.map((a) => ({
      attemptedAt: a.attemptedAt.toISOString(),
      latencyMs: a.latencyMs,
      responseStatus: a.responseStatus,
      responseBody: a.responseBody,
      error: a.error,
      ok: a.ok,
    })),
  };
}

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly sender: WebhookSender,
    @Inject(WEBHOOK_FETCHER) private readonly fetcher: SafeFetcher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'createWebhook',
    summary: 'Register an endpoint for events; the signing secret is in this answer only',
    description:
      'Deliveries are signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). ' +
      '`events` takes patterns: `job.succeeded`, `document.*`, `*`. A URL that resolves to a private address is ' +
      'refused (422 url_forbidden) unless WEBHOOK_ALLOW_HOSTS names it.',
  })
  @ApiZodBody(CreateWebhook, {
    example: { url: 'https://example.com/quarry-hook', events: ['job.*', 'document.failed'] },
  })
  @ApiZodResponse(201, CreatedWebhook, {
    description: 'The webhook with its signing secret, shown this once',
  })
  @ApiErrors('url_forbidden', 'conflict', 'unsupported_media_type')
  async create(@CurrentTenant() tenant: TenantContext, @Body() body: unknown): Promise<CreatedWebhook> {
    const input = parseInput(CreateWebhook, body, 'body');
    await this.vet(input.url);
    if ((await this.webhooks.count(tenant.tenantId)) >= this.config.webhooks.maxPerTenant) {
      throw new QuarryError(
        'conflict',
        `a tenant may have at most ${this.config.webhooks.maxPerTenant} webhooks`,
      );
    }
    const secret = newWebhookSecret();
    const w = await this.webhooks.create(tenant.tenantId, { ...input, secret });
    return { ...webhookResponse(w), secret };
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({ operationId: 'listWebhooks', summary: "The tenant's webhooks" })
  @ApiZodResponse(200, WebhookList, { description: 'Every webhook of the tenant (no secrets)' })
  async list(@CurrentTenant() tenant: TenantContext): Promise<WebhookList> {
    return { items: (await this.webhooks.list(tenant.tenantId)).map(webhookResponse) };
  }

  @Get(':id')
  @RequireScope('admin')
  @ApiOperation({ operationId: 'getWebhook', summary: 'A webhook' })
  @ApiZodResponse(200, Webhook, { description: 'The webhook (no secret)' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<Webhook> {
    return webhookResponse(await this.found(tenant, id));
  }

  @Patch(':id')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'updateWebhook',
    summary: 'Change a webhook: url, events, description, enabled',
    description: 'Enabling a disabled endpoint forgets its failures; its pending deliveries resume.',
  })
  @ApiZodBody(UpdateWebhook, { example: { enabled: true } })
  @ApiZodResponse(200, Webhook, { description: 'The changed webhook' })
  @ApiErrors('not_found', 'url_forbidden', 'unsupported_media_type')
  async update(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<Webhook> {
    const webhookId = parseInput(Uuid, id, 'webhook id');
    const patch = parseInput(UpdateWebhook, body, 'body');
    if (patch.url !== undefined) await this.vet(patch.url);
    const w = await this.webhooks.update(tenant.tenantId, webhookId, patch);
    if (!w) throw new QuarryError('not_found', `webhook ${webhookId} not found`);
    if (patch.enabled) this.sender.wake();
    return webhookResponse(w);
  }

  @Delete(':id')
  @RequireScope('admin')
  @HttpCode(204)
  @ApiOperation({ operationId: 'deleteWebhook', summary: 'Delete a webhook and its delivery log' })
  @ApiZodResponse(204, null, { description: 'Deleted' })
  @ApiErrors('not_found')
  async remove(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<void> {
    const webhookId = parseInput(Uuid, id, 'webhook id');
    if (!(await this.webhooks.delete(tenant.tenantId, webhookId))) {
      throw new QuarryError('not_found', `webhook ${webhookId} not found`);
    }
  }

  @Post(':id/rotate-secret')
  @RequireScope('admin')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'rotateWebhookSecret',
    summary: 'A new signing secret (in this answer only); the old one keeps signing beside it for an overlap',
    description:
      'During the overlap (WEBHOOK_SECRET_OVERLAP_MS) each delivery carries a signature of each secret.',
  })
  @ApiZodResponse(200, RotatedWebhook, { description: 'The webhook with its new secret, shown this once' })
  @ApiErrors('not_found')
  async rotate(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<RotatedWebhook> {
    const webhookId = parseInput(Uuid, id, 'webhook id');
    const secret = newWebhookSecret();
    const until = new Date(Date.now() + this.config.webhooks.secretOverlapMs);
    const w = await this.webhooks.rotateSecret(tenant.tenantId, webhookId, secret, until);
    if (!w) throw new QuarryError('not_found', `webhook ${webhookId} not found`);
    return { ...webhookResponse(w), secret, previousSecretValidUntil: until.toISOString() };
  }

  @Get(':id/deliveries')
  @RequireScope('admin')
  @ApiOperation({
    operationId: 'listWebhookDeliveries',
    summary: "A webhook's deliveries, newest first, each with every attempt",
  })
  @ApiZodQuery(DeliveriesQuery)
  @ApiZodResponse(200, WebhookDeliveryList, { description: 'A page of deliveries' })
  @ApiErrors('not_found')
  async deliveries(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
  ): Promise<WebhookDeliveryList> {
    const w = await this.found(tenant, id);
    const q = parseInput(DeliveriesQuery, query, 'query');
    const items = await this.webhooks.deliveries(tenant.tenantId, w.id, { limit: q.limit, before: q.cursor });
    const last = items.at(-1);
    return {
      items: items.map(deliveryResponse),
      nextCursor: items.length === q.limit && last ? last.id : null,
    };
  }

  @Post(':id/deliveries/:deliveryId/replay')
  @RequireScope('admin')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'replayWebhookDelivery',
    summary: 'Post a delivery again, from the start of the retry schedule',
  })
  @ApiZodResponse(202, WebhookDeliveryReplay, { description: 'The delivery is pending again' })
  @ApiErrors('not_found')
  async replay(
    @CurrentTenant() tenant: TenantContext,
    @Param('id') id: string,
    @Param('deliveryId') deliveryId: string,
  ): Promise<WebhookDeliveryReplay> {
    const webhookId = parseInput(Uuid, id, 'webhook id');
    const delivery = parseInput(Uuid, deliveryId, 'delivery id');
    if (!(await this.webhooks.replay(tenant.tenantId, webhookId, delivery))) {
      throw new QuarryError('not_found', `delivery ${delivery} of webhook ${webhookId} not found`);
    }
    this.sender.wake();
    return { webhookId, deliveryId: delivery, status: 'pending' };
  }

  /** The SSRF guard's checks; a refusal says how an operator allows a private receiver on purpose. */
  private async vet(url: string): Promise<void> {
    try {
      await this.fetcher.checkUrl(url);
    } catch (error) {
      // Only a refused address can be allowed; a scheme, a port or credentials cannot.
      if (!QuarryError.is(error, 'url_forbidden') || error.details?.['address'] === undefined) throw error;
      throw new QuarryError(
        'url_forbidden',
        `${error.message}; an operator can allow a private receiver with WEBHOOK_ALLOW_HOSTS`,
        { cause: error, ...(error.details ? { details: error.details } : {}) },
      );
    }
  }

  private async found(tenant: TenantContext, id: string): Promise<WebhookRow> {
    const webhookId = parseInput(Uuid, id, 'webhook id');
    const w = await this.webhooks.get(tenant.tenantId, webhookId);
    if (!w) throw new QuarryError('not_found', `webhook ${webhookId} not found`);
    return w;
  }
}
