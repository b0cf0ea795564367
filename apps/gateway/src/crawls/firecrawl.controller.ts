import { Controller, Headers, HttpCode, Post, Req, type RawBodyRequest } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Lane } from '@quarry/contracts';
import type { FastifyRequest } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ApiErrors, ApiZodResponse } from '../http/openapi';
import { FirecrawlReceipt } from '../http/response-schemas';
import { parseInput } from '../http/validation';
import { FirecrawlReceiver } from './firecrawl.service';

export const FIRECRAWL_ROUTE = '/v1/ingest/firecrawl';

@ApiTags('crawls')
@ApiBearerAuth()
@Controller('v1/ingest')
export class FirecrawlController {
  constructor(private readonly receiver: FirecrawlReceiver) {}

  @Post('firecrawl')
  @RequireScope('write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'receiveFirecrawlDelivery',
    summary: "Firecrawl's webhook: each crawled page becomes a document of the crawl's job",
    description:
      'Point a Firecrawl crawl or batch scrape at this URL with `webhook.headers: {"Authorization": "Bearer <key>"}` ' +
      'and events page, completed, failed. Deliveries are verified against FIRECRAWL_WEBHOOK_SECRET ' +
      '(X-Firecrawl-Signature: sha256=<hex HMAC-SHA256 of the raw body>); the crawl id maps to one job, a ' +
      'repeated webhookId is a no-op, and crawl.completed lets the job finish once its pages are indexed.',
  })
  @ApiHeader({ name: 'X-Firecrawl-Signature', required: true })
  @ApiHeader({ name: 'Quarry-Lane', required: false, description: 'interactive | bulk (default bulk)' })
  @ApiZodResponse(200, FirecrawlReceipt, {
    description: 'Accepted (or a duplicate, or an event Quarry ignores)',
  })
  @ApiErrors(
    'invalid_signature',
    'feature_disabled',
    'payload_too_large',
    'unsupported_media_type',
    'quota_exceeded',
  )
  async receive(
    @CurrentTenant() tenant: TenantContext,
    @Req() request: RawBodyRequest<FastifyRequest>,
    @Headers('x-firecrawl-signature') signature: string | undefined,
    @Headers('quarry-lane') laneHeader: string | undefined,
  ) {
    const lane = laneHeader === undefined ? null : parseInput(Lane, laneHeader, 'Quarry-Lane');
    return this.receiver.receive(tenant.tenantId, request.rawBody, signature, lane);
  }
}
