import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  QuarryError,
  SearchFilter,
  SearchMode,
  type SearchReply,
  type SearchRequest,
} from '@quarry/contracts';
import { JetStreamClient, servicePattern } from '@quarry/messaging';
import { lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { ApiErrors, ApiZodBody, ApiZodResponse } from '../http/openapi';
import { decodeRankCursor, encodeRankCursor, rankFingerprint } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { SearchResponse } from '../http/response-schemas';

const SearchBody = z
  .object({
    query: z.string().trim().min(1, 'must not be empty').max(2000),
    topK: z.number().int().min(1).max(50).default(5),
    mode: SearchMode.default('hybrid'),
    filter: SearchFilter.optional(),
    cursor: z.string().max(200).optional(),
  })
  .strict();

/** Pages go this deep at most: past it a search is better narrowed by a filter than paged. */
const MAX_OFFSET = 1000;

@ApiTags('search')
@ApiBearerAuth()
@Controller('v1/search')
export class SearchController {
  constructor(@Inject(JetStreamClient) private readonly client: JetStreamClient) {}

  @Post()
  @RequireScope('read')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'search',
    summary:
      "Search the tenant's indexed documents: hybrid (BM25 full text and vectors, scores combined, the " +
      'default), vector or keyword, with filters applied inside the ranking, highlights and cursor paging ' +
      '(answered by the analysis worker)',
  })
  @ApiZodBody(SearchBody, {
    example: { query: 'INV-20931', mode: 'keyword', topK: 3, filter: { tags: ['finance'] } },
  })
  @ApiZodResponse(200, SearchResponse, {
    description: 'The best chunks, best first, and where the next page starts',
    example: {
      model: 'use-lite-512',
      mode: 'keyword',
      results: [
        {
          documentId: '0193a3e0-6f1d-7a10-8b2c-3d4e5f607182',
          filename: 'invoice.pdf',
          page: 1,
          sectionPath: [],
          chunkId: '0193a3e1-0a2b-7c3d-8e4f-5a6b7c8d9e0f',
          text: 'Invoice INV-20931: dredging of the harbour basin, due 2027-01-15',
          score: 0.1,
          scores: { vector: null, keyword: 0.1 },
          highlights: [{ start: 8, end: 17 }],
        },
      ],
      nextCursor: null,
    },
  })
  @ApiErrors('search_unavailable', 'unsupported_media_type')
  async search(@CurrentTenant() tenant: TenantContext, @Body() body: unknown): Promise<SearchResponse> {
    const input = parseInput(SearchBody, body ?? {}, 'body');
    const fingerprint = rankFingerprint([input.query, input.mode, input.filter ?? null, input.topK]);
    const offset = input.cursor === undefined ? 0 : decodeRankCursor(input.cursor, fingerprint);
    if (offset > MAX_OFFSET) {
      throw new QuarryError(
        'validation_failed',
        `search pages end at ${MAX_OFFSET} results: narrow the filter`,
      );
    }
    const request: SearchRequest = {
      v: 1,
      tenantId: tenant.tenantId,
      query: input.query,
      topK: input.topK,
      mode: input.mode,
      offset,
      ...(input.filter ? { filter: input.filter } : {}),
    };
    const reply = await lastValueFrom(
      this.client.send<SearchReply, SearchRequest>(servicePattern('search'), request),
    );
    if (!reply.ok) {
      throw new QuarryError(
        reply.error.code === 'validation_failed' ? 'validation_failed' : 'search_unavailable',
        reply.error.message,
      );
    }
    const next = offset + reply.results.length;
    return {
      model: reply.model,
      mode: reply.mode,
      results: reply.results,
      nextCursor: reply.more && next <= MAX_OFFSET ? encodeRankCursor({ offset: next, fingerprint }) : null,
    };
  }
}
