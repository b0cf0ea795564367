import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { QuarryError, type SearchReply, type SearchRequest } from '@quarry/contracts';
import { JetStreamClient, servicePattern } from '@quarry/messaging';
import { lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { CurrentTenant, type TenantContext } from '../auth/api-key.guard';
import { parseInput } from '../http/validation';

const SearchBody = z
  .object({
    query: z.string().trim().min(1, 'must not be empty').max(2000),
    topK: z.number().int().min(1).max(50).default(5),
  })
  .strict();

@ApiTags('search')
@ApiBearerAuth()
@Controller('v1/search')
export class SearchController {
  constructor(@Inject(JetStreamClient) private readonly client: JetStreamClient) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: "Semantic search over the tenant's indexed documents (answered by the analysis worker)",
  })
  @ApiBody({ schema: z.toJSONSchema(SearchBody, { io: 'input' }) as Record<string, unknown> })
  async search(@CurrentTenant() tenant: TenantContext, @Body() body: unknown) {
    const input = parseInput(SearchBody, body ?? {}, 'body');
    const reply = await lastValueFrom(
      this.client.send<SearchReply, SearchRequest>(servicePattern('search'), {
        v: 1,
        tenantId: tenant.tenantId,
        query: input.query,
        topK: input.topK,
      }),
    );
    if (!reply.ok) {
      throw new QuarryError(
        reply.error.code === 'validation_failed' ? 'validation_failed' : 'search_unavailable',
        reply.error.message,
      );
    }
    return {
      model: reply.model,
      results: reply.results.map((r) => ({
        documentId: r.documentId,
        filename: r.filename,
        page: r.page,
        chunkId: r.chunkId,
        text: r.text,
        score: r.score,
      })),
    };
  }
}
