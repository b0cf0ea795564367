import { Inject, Injectable } from '@nestjs/common';
import { QuarryError, type ApiKeyScope } from '@quarry/contracts';
import { ApiKeysRepository, hashApiKey, LAST_USED_RESOLUTION_MS } from '@quarry/persistence';
import { LOGGER, type Logger } from '@quarry/telemetry';

/** Whose request it is: the caller's tenant, and the key it came with. Every repository call takes the tenant. */
export interface TenantContext {
  tenantId: string;
  tenantName: string;
  keyId: string;
  scopes: readonly ApiKeyScope[];
}

interface Cached {
  principal: TenantContext;
  expiresAt: Date | null;
  /** Until when this replica may answer from memory; counted from before the lookup that read it. */
  until: number;
}

/**
 * How stale a replica's view of a key may be: a key revoked on any replica stops working everywhere within this
 * (issue 11). Counted from the moment the lookup started, so a lookup that raced the revocation serves no longer.
 */
export const KEY_CACHE_TTL_MS = 1000;
const MAX_CACHED = 10_000;

/**
 * Turns a presented API key into its tenant and scopes. Keys are looked up at most once a second per replica and
 * key (keyed by hash: no key is held in memory); unknown keys are not remembered, so a key made a moment ago works
 * at once. Marks the key used at most once a minute.
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly markedAt = new Map<string, number>();

  constructor(
    private readonly keys: ApiKeysRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async authenticate(key: string, now = Date.now()): Promise<TenantContext> {
    const hash = hashApiKey(key);
    let entry = this.cache.get(hash);
    if (!entry || entry.until <= now) {
      this.cache.delete(hash);
      entry = await this.load(key, hash, now);
    }
    if (entry.expiresAt && entry.expiresAt.getTime() <= now) {
      this.cache.delete(hash);
      throw new QuarryError('unauthorized', 'API key expired');
    }
    this.markUsed(entry.principal.keyId, now);
    return entry.principal;
  }

  /** Drops what this replica remembers of a key, so a revocation made here takes effect here at once. */
  forget(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.principal.keyId === keyId) this.cache.delete(hash);
  }

  private async load(key: string, hash: string, startedAt: number): Promise<Cached> {
    const row = await this.keys.findForAuth(key);
    if (!row || row.revokedAt) throw new QuarryError('unauthorized', 'unknown or revoked API key');
    const entry: Cached = {
      principal: { tenantId: row.tenantId, tenantName: row.tenantName, keyId: row.keyId, scopes: row.scopes },
      expiresAt: row.expiresAt,
      until: startedAt + KEY_CACHE_TTL_MS,
    };
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hash, entry);
    return entry;
  }

  /** Off the request's path: a failed write of lastUsedAt must not fail the request it describes. */
  private markUsed(keyId: string, now: number): void {
    const last = this.markedAt.get(keyId);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    if (this.markedAt.size >= MAX_CACHED) this.markedAt.clear();
    this.markedAt.set(keyId, now);
    this.keys.markUsed(keyId).catch((err: unknown) => {
      this.markedAt.delete(keyId);
      this.logger.warn({ err, keyId }, 'could not record the API key as used');
    });
  }
}
