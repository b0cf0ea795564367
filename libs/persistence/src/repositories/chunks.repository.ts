import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { toVectorLiteral } from './document-steps';
import type { SearchHitRow } from './types';

export class ChunksRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Cosine top-k within one tenant and one embedding model. The dimension is a type modifier, so it
   * is spliced into the SQL (validated integer) to match the partial HNSW index for that dimension.
   */
  async searchByVector(
    tenantId: string,
    model: { id: string; dim: number },
    vector: Float32Array,
    topK: number,
  ): Promise<SearchHitRow[]> {
    if (!Number.isInteger(model.dim) || model.dim <= 0 || model.dim > 16000)
      throw new Error(`bad dimension ${model.dim}`);
    const vt = Prisma.raw(`vector(${model.dim})`);
    const q = toVectorLiteral(vector);
    return this.prisma.$transaction(async (tx) => {
      // Keeps filtering by tenant from starving the HNSW scan of results (pgvector ≥ 0.8).
      await tx.$executeRaw`SET LOCAL hnsw.iterative_scan = 'relaxed_order'`;
      return tx.$queryRaw<SearchHitRow[]>`
        SELECT c.id AS "chunkId", c.document_id AS "documentId", d.filename, c.page_number AS "pageNumber", c.text,
               (1 - (c.embedding::${vt} <=> ${q}::${vt}))::float8 AS score
        FROM chunks c JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id
        WHERE c.tenant_id = ${tenantId}::uuid AND c.embedding_dim = ${model.dim} AND c.embedding_model = ${model.id}
        ORDER BY c.embedding::${vt} <=> ${q}::${vt}
        LIMIT ${topK}`;
    });
  }
}
