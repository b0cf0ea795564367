import { ApiKeyScope } from '@quarry/contracts';
import type { ApiKey, PrismaClient } from '../generated/prisma/client';
import { hashApiKey } from './jobs.repository';

/** A key as its tenant's admins and operators see it: never the secret, never its hash. */
export interface ApiKeyView {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What the gateway needs to let a request in: whose key it is, what it may do, whether it still may. */
export interface ApiKeyPrincipalRow {
  keyId: string;
  tenantId: string;
  tenantName: string;
  scopes: ApiKeyScope[];
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  tenantId: string;
  name: string;
  /** The whole key; only its hash is stored. */
  key: string;
  prefix: string;
  scopes: readonly ApiKeyScope[];
  expiresAt: Date | null;
}

/** Stored scopes are text: one the code no longer knows grants nothing rather than failing every request. */
const knownScopes = (stored: readonly string[]): ApiKeyScope[] =>
  stored.filter((s): s is ApiKeyScope => ApiKeyScope.safeParse(s).success);

function toView(k: ApiKey): ApiKeyView {
  return {
    id: k.id,
    tenantId: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    scopes: knownScopes(k.scopes),
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: k.lastUsedAt,
    revokedAt: k.revokedAt,
  };
}

/** How long a key's last use may go unrecorded: writing it on every request would make every read a write. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** A tenant's API keys. Every read and change but the gateway's lookup by hash is scoped by tenant. */
export class ApiKeysRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(input: NewApiKey): Promise<ApiKeyView> {
    const row = await this.prisma.apiKey.create({
      data: {
        tenantId: input.tenantId,
        name: input.name,
        keyHash: hashApiKey(input.key),
        prefix: input.prefix,
        scopes: [...input.scopes],
        expiresAt: input.expiresAt,
      },
    });
    return toView(row);
  }

  /** Newest first, revoked and expired ones included (they say so). */
  async list(tenantId: string): Promise<ApiKeyView[]> {
    const rows = await this.prisma.apiKey.findMany({
      where: { tenantId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    return rows.map(toView);
  }

  async get(tenantId: string, id: string): Promise<ApiKeyView | null> {
    const row = await this.prisma.apiKey.findFirst({ where: { id, tenantId } });
    return row ? toView(row) : null;
  }

  async findByPrefix(tenantId: string, prefix: string): Promise<ApiKeyView[]> {
    const rows = await this.prisma.apiKey.findMany({
      where: { tenantId, prefix },
      orderBy: { createdAt: 'desc' },
    });
    return rows.map(toView);
  }

  /**
   * Revokes the tenant's key; null when the tenant has no such key. Revoking again keeps the first time: the key
   * stopped working then.
   */
  async revoke(tenantId: string, id: string): Promise<ApiKeyView | null> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
      WHERE id = ${id}::uuid AND tenant_id = ${tenantId}::uuid
      RETURNING id`;
    return rows.length === 0 ? null : this.get(tenantId, id);
  }

  /** The key behind a presented secret, revoked or expired ones included (the caller decides); null if unknown. */
  async findForAuth(key: string): Promise<ApiKeyPrincipalRow | null> {
    const row = await this.prisma.apiKey.findUnique({
      where: { keyHash: hashApiKey(key) },
      include: { tenant: { select: { name: true } } },
    });
    if (!row) return null;
    return {
      keyId: row.id,
      tenantId: row.tenantId,
      tenantName: row.tenant.name,
      scopes: knownScopes(row.scopes),
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
    };
  }

  /**
   * Records that the key was used. Replicas call it at most once a minute per key each; the condition makes the
   * row change at most once a minute whatever they do.
   */
  async markUsed(keyId: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE api_keys SET last_used_at = now()
      WHERE id = ${keyId}::uuid
        AND (last_used_at IS NULL OR last_used_at < now() - ${LAST_USED_RESOLUTION_MS}::float8 * interval '1 millisecond')`;
  }
}
