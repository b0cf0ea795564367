import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Lane, QuarryError } from '@quarry/contracts';
import { BLOB_STORE, type BlobStore } from '@quarry/messaging';
import { JobsRepository, MaintenanceRepository } from '@quarry/persistence';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentTenant, RequireScope, type TenantContext } from '../auth/api-key.guard';
import { parseIdempotencyKey, Uuid } from '../http/request-schemas';
import { parseInput } from '../http/validation';
import { z } from 'zod';
import { ACCEPTED_JOB_HEADERS, ApiErrors, ApiZodBody, ApiZodResponse } from '../http/openapi';
import { AcceptedJob, Document, DocumentWithPages } from '../http/response-schemas';
import { acceptedJob, documentDetail } from '../http/views';
import { QuotaService } from '../usage/quota.service';
import { mergeMetadata, Metadata, Tags } from './document-labels';
import { UPLOAD_FIELD, UploadService } from './upload.service';
import { unsupportedBody, urlIngestBody, UrlIngestService } from './url-ingest.service';

const DocumentPatch = z
  .strictObject({
    metadata: z.record(z.string(), z.unknown()).optional(),
    tags: Tags.optional(),
  })
  .refine((p) => p.metadata !== undefined || p.tags !== undefined, 'send metadata, tags or both');

@ApiTags('documents')
@ApiBearerAuth()
@Controller('v1/documents')
export class DocumentsController {
  constructor(
    private readonly uploads: UploadService,
    private readonly urls: UrlIngestService,
    private readonly jobs: JobsRepository,
    private readonly maintenance: MaintenanceRepository,
    private readonly quotas: QuotaService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  @Post()
  @RequireScope('write')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'uploadDocuments',
    summary: 'Upload documents, or give URLs to fetch; answers at once with the ingest job',
    description:
      'multipart/form-data with files in "files" (and optional fields "metadata", a JSON object, and "tags"), or ' +
      'application/json {"urls": ["https://…"], "metadata": {…}, "tags": […]}: ' +
      'each URL becomes a document of one job, fetched by the ingest worker through the SSRF guard ' +
      '(URL_FETCH_ALLOW_HOSTS, URL_FETCH_MAX_BYTES, URL_FETCH_TIMEOUT_MS); a refused or failed fetch fails ' +
      'that document with url_forbidden, url_unreachable, url_too_large or url_http_error.',
  })
  @ApiZodBody((config) => urlIngestBody(config.urlFetch.maxUrlsPerRequest), {
    description: 'multipart/form-data: files in "files"; application/json: URLs to fetch',
    example: { urls: ['https://example.com/guide.html'], metadata: { project: 'docs' }, tags: ['guides'] },
    also: {
      'multipart/form-data': {
        schema: {
          type: 'object',
          required: [UPLOAD_FIELD],
          properties: {
            [UPLOAD_FIELD]: {
              type: 'array',
              items: { type: 'string', contentMediaType: 'application/octet-stream' },
              description: 'the files, one part each (the type is detected from the bytes)',
            },
            metadata: { type: 'string', description: 'a JSON object, stored on every file of the request' },
            tags: { type: 'string', description: 'a JSON array of strings, or tags separated by commas' },
            classify: {
              type: 'string',
              description:
                'labels to classify each file by once indexed: {"labels":[{"name","description"}],"multiLabel"}, ' +
                'a JSON array of labels, or names separated by commas (also as ?classify=)',
            },
          },
        },
      },
    },
  })
  @ApiQuery({
    name: 'classify',
    required: false,
    type: String,
    description: 'as the multipart field classify',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same key, same job',
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  })
  @ApiHeader({
    name: 'Quarry-Lane',
    required: false,
    description: 'default: bulk above BULK_THRESHOLD_DOCUMENTS files, else interactive',
    schema: { type: 'string', enum: Lane.options },
  })
  @ApiZodResponse(202, AcceptedJob, {
    description: 'Job accepted; Location points at it',
    headers: ACCEPTED_JOB_HEADERS,
    example: {
      id: '0193a3e0-6f1c-7c4e-9a39-2b1f4c8d5e6f',
      status: 'queued',
      lane: 'interactive',
      documents: [
        {
          id: '0193a3e0-6f1d-7a10-8b2c-3d4e5f607182',
          filename: 'report.pdf',
          status: 'queued',
          error: null,
          detectedType: null,
          source: 'upload',
        },
      ],
      createdAt: '2026-12-01T10:00:00.000Z',
    },
  })
  @ApiErrors(
    'no_files',
    'empty_file',
    'too_many_files',
    'payload_too_large',
    'not_multipart',
    'unsupported_media_type',
    'quota_exceeded',
  )
  async upload(
    @CurrentTenant() tenant: TenantContext,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
    @Headers('quarry-lane') laneHeader: string | undefined,
    @Query('classify') classifyQuery: string | undefined,
  ) {
    const contentType = request.headers['content-type'];
    const json = /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType ?? '');
    if (!request.isMultipart() && !json) throw unsupportedBody(contentType);
    const idempotencyKey = parseIdempotencyKey(idempotencyKeyHeader);
    const lane = laneHeader === undefined ? null : parseInput(Lane, laneHeader, 'Quarry-Lane');
    // Before the first byte of a file is read: a tenant past a monthly quota stores nothing (ADR 32).
    await this.quotas.assertWithinQuota(tenant.tenantId);
    const { job, created } = json
      ? await this.urls.ingest(tenant.tenantId, request.body, idempotencyKey, lane)
      : await this.uploads.upload(tenant.tenantId, request.parts(), idempotencyKey, lane, classifyQuery);
    return acceptedJob(job, created, reply);
  }

  @Get(':id')
  @RequireScope('read')
  @ApiOperation({
    operationId: 'getDocument',
    summary: 'A document: metadata, status, page and chunk counts, text by page',
  })
  @ApiZodResponse(200, DocumentWithPages, { description: 'The document with its pages' })
  @ApiErrors('not_found')
  async get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    const documentId = parseInput(Uuid, id, 'document id');
    const d = await this.jobs.getDocument(tenant.tenantId, documentId);
    if (!d) throw new QuarryError('not_found', `document ${documentId} not found`);
    return { ...documentDetail(d), pages: d.pages };
  }

  @Patch(':id')
  @RequireScope('write')
  @ApiOperation({
    operationId: 'updateDocument',
    summary: "Change a document's metadata (a JSON merge patch: null removes a key) and tags (replaced)",
  })
  @ApiZodBody(DocumentPatch, { example: { metadata: { status: 'paid', draft: null }, tags: ['finance'] } })
  @ApiZodResponse(200, Document, { description: 'The document with its new metadata and tags' })
  @ApiErrors('not_found', 'unsupported_media_type')
  async patch(@CurrentTenant() tenant: TenantContext, @Param('id') id: string, @Body() body: unknown) {
    const documentId = parseInput(Uuid, id, 'document id');
    const patch = parseInput(DocumentPatch, body ?? {}, 'body');
    const d = await this.jobs.updateDocumentLabels(tenant.tenantId, documentId, (current) => {
      const metadata = patch.metadata ? mergeMetadata(current.metadata, patch.metadata) : current.metadata;
      // The merged object is held to the same bound as one given at upload.
      parseInput(Metadata, metadata, 'metadata');
      return { metadata, tags: patch.tags ?? current.tags };
    });
    if (!d) throw new QuarryError('not_found', `document ${documentId} not found`);
    return documentDetail(d);
  }

  @Delete(':id')
  @RequireScope('write')
  @HttpCode(204)
  @ApiOperation({
    operationId: 'deleteDocument',
    summary: 'Delete a document of a finished job, with its pages, chunks and stored bytes',
    description:
      'The stored bytes stay while another document (a retry of the same job) still uses them. ' +
      '409 conflict while the job is queued or running: cancel it first.',
  })
  @ApiZodResponse(204, null, { description: 'Deleted' })
  @ApiErrors('not_found', 'conflict')
  async delete(@CurrentTenant() tenant: TenantContext, @Param('id') id: string): Promise<void> {
    const documentId = parseInput(Uuid, id, 'document id');
    const result = await this.maintenance.deleteDocument(tenant.tenantId, documentId, (key) =>
      this.blobs.delete(key),
    );
    if (result.outcome === 'not_found') {
      throw new QuarryError('not_found', `document ${documentId} not found`);
    }
    if (result.outcome === 'job_active') {
      throw new QuarryError(
        'conflict',
        `document ${documentId} belongs to a job that is still ${result.jobStatus}; cancel it or wait for it to finish`,
        { details: { jobStatus: result.jobStatus } },
      );
    }
  }
}
