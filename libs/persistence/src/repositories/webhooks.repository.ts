import { eventTypeMatches, type QuarryEvent } from '@quarry/contracts';
import type { PrismaClient } from '../generated/prisma/client';
import { deliveryVerdict, shouldDisableEndpoint } from '../domain/event-rules';
import type { Tx } from './sql';

export interface WebhookRow {
  id: string;
  tenantId: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  previousSecretUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WebhookAttemptRow {
  attemptedAt: Date;
  latencyMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  ok: boolean;
}

export interface WebhookDeliveryRow {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date | null;
  lastResponseStatus: number | null;
  createdAt: Date;
  updatedAt: Date;
  attemptLog: WebhookAttemptRow[];
}

/** A delivery claimed for one attempt: what to post, where, signed with which secrets. */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  webhookId: string;
  eventId: string;
  payload: unknown;
  /** This attempt's number, 1 for the first (since the last replay). */
  attempt: number;
  url: string;
  secrets: string[];
}

export interface AttemptResult {
  ok: boolean;
  latencyMs: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
}

export interface WebhookPatch {
  url?: string;
  events?: string[];
  description?: string;
  enabled?: boolean;
}

const select = {
  id: true,
  tenantId: true,
  url: true,
  description: true,
  events: true,
  enabled: true,
  disabledReason: true,
  failingSince: true,
  previousSecretUntil: true,
  createdAt: true,
  updatedAt: true,
} as const;

/** Tenants' webhooks, the deliveries of events to them and every attempt (ADR 30). Every read is scoped by tenant. */
export class WebhooksRepository {
  constructor(private readonly prisma: PrismaClient) {}

  create(
    tenantId: string,
    w: { url: string; events: string[]; description: string; enabled: boolean; secret: string },
  ): Promise<WebhookRow> {
    return this.prisma.webhook.create({ data: { tenantId, ...w }, select });
  }

  list(tenantId: string): Promise<WebhookRow[]> {
    return this.prisma.webhook.findMany({ where: { tenantId }, orderBy: { createdAt: 'asc' }, select });
  }

  count(tenantId: string): Promise<number> {
    return this.prisma.webhook.count({ where: { tenantId } });
  }

  get(tenantId: string, id: string): Promise<WebhookRow | null> {
    return this.prisma.webhook.findFirst({ where: { tenantId, id }, select });
  }

  /** Re-enabling an endpoint forgets its failures: it gets a day again before it is disabled. */
  async update(tenantId: string, id: string, patch: WebhookPatch): Promise<WebhookRow | null> {
    const enabling = patch.enabled === true ? { failingSince: null, disabledReason: null } : {};
    const { count } = await this.prisma.webhook.updateMany({
      where: { tenantId, id },
      data: { ...patch, ...enabling, updatedAt: new Date() },
    });
    return count === 0 ? null : this.get(tenantId, id);
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const { count } = await this.prisma.webhook.deleteMany({ where: { tenantId, id } });
    return count > 0;
  }

  /** The new secret signs from now on; the old one signs beside it until `overlapUntil`. */
  async rotateSecret(
    tenantId: string,
    id: string,
    secret: string,
    overlapUntil: Date,
  ): Promise<WebhookRow | null> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE webhooks SET previous_secret = secret, previous_secret_until = ${overlapUntil}, secret = ${secret},
             updated_at = now()
      WHERE tenant_id = ${tenantId}::uuid AND id = ${id}::uuid RETURNING id`;
    return rows.length === 0 ? null : this.get(tenantId, id);
  }

  /**
   * One delivery per enabled webhook of the event's tenant whose patterns take the event and that existed when it
   * happened. Idempotent: the event handled again (a redelivery) adds nothing.
   */
  async enqueue(event: QuarryEvent): Promise<number> {
    const hooks = await this.prisma.webhook.findMany({
      where: { tenantId: event.tenantId, enabled: true, createdAt: { lte: new Date(event.occurredAt) } },
      select: { id: true, events: true },
    });
    const takers = hooks.filter((h) => h.events.some((p) => eventTypeMatches(p, event.type)));
    if (takers.length === 0) return 0;
    return this.prisma.$executeRaw`
      INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, next_attempt_at)
      SELECT ${event.tenantId}::uuid, w, ${event.id}::uuid, ${event.type}, ${JSON.stringify(event)}::jsonb, now()
      FROM unnest(${takers.map((h) => h.id)}::uuid[]) AS w
      ON CONFLICT (webhook_id, event_id) DO NOTHING`;
  }

  /**
   * Due deliveries of enabled endpoints, each held by this caller for `leaseMs` (longer than a post may take), so no
   * other replica posts it at the same time; a holder that dies leaves it to be claimed again when the lease ends.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: string;
        tenant_id: string;
        webhook_id: string;
        event_id: string;
        payload: unknown;
        attempts: number;
        url: string;
        secret: string;
        previous_secret: string | null;
        previous_secret_until: Date | null;
      }[]
    >`
      WITH due AS (
        SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.enabled
          AND (d.locked_until IS NULL OR d.locked_until < now())
        ORDER BY d.next_attempt_at LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED)
      UPDATE webhook_deliveries d
      SET locked_until = now() + make_interval(secs => ${leaseMs / 1000}::float8), attempts = d.attempts + 1,
          updated_at = now()
      FROM due, webhooks w
      WHERE d.id = due.id AND w.id = d.webhook_id
      RETURNING d.id, d.tenant_id, d.webhook_id, d.event_id, d.payload, d.attempts, w.url, w.secret,
                w.previous_secret, w.previous_secret_until`;
    const now = Date.now();
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      webhookId: r.webhook_id,
      eventId: r.event_id,
      payload: r.payload,
      attempt: r.attempts,
      url: r.url,
      secrets: [
        r.secret,
        ...(r.previous_secret && r.previous_secret_until && r.previous_secret_until.getTime() > now
          ? [r.previous_secret]
          : []),
      ],
    }));
  }

  /**
   * Records an attempt and what follows from it (ADR 30): the delivery ends or waits for its next attempt; the
   * endpoint's run of failures starts or ends; an endpoint failing for `disableAfterMs` is disabled, with a
   * `webhook.disabled` event. Returns whether this attempt disabled the endpoint.
   */
  recordAttempt(
    d: ClaimedDelivery,
    result: AttemptResult,
    policy: { scheduleMs: readonly number[]; disableAfterMs: number },
  ): Promise<{ disabled: boolean }> {
    const verdict = deliveryVerdict(result.ok, d.attempt, policy.scheduleMs);
    const next = verdict.status === 'pending' ? verdict.nextAttemptInMs : null;
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`
        INSERT INTO webhook_attempts (delivery_id, tenant_id, latency_ms, response_status, response_body, error, ok)
        VALUES (${d.id}::uuid, ${d.tenantId}::uuid, ${Math.round(result.latencyMs)}::int, ${result.responseStatus}::int,
                ${result.responseBody}, ${result.error}, ${result.ok})`;
      await tx.$executeRaw`
        UPDATE webhook_deliveries
        SET status = ${verdict.status}, locked_until = NULL, last_response_status = ${result.responseStatus}::int,
            next_attempt_at = CASE WHEN ${next}::float8 IS NULL THEN NULL
                                   ELSE now() + make_interval(secs => ${next}::float8 / 1000) END,
            updated_at = now()
        WHERE id = ${d.id}::uuid`;
      const [hook] = await tx.$queryRaw<{ failing_since: Date | null; enabled: boolean; url: string }[]>`
        UPDATE webhooks
        SET failing_since = CASE WHEN ${result.ok} THEN NULL ELSE coalesce(failing_since, now()) END
        WHERE id = ${d.webhookId}::uuid
        RETURNING failing_since, enabled, url`;
      if (!hook?.enabled || !shouldDisableEndpoint(hook.failing_since, new Date(), policy.disableAfterMs)) {
        return { disabled: false };
      }
      await disableEndpoint(tx, d, hook.url, policy.disableAfterMs);
      return { disabled: true };
    });
  }

  async deliveries(
    tenantId: string,
    webhookId: string,
    options: { limit: number; before?: string },
  ): Promise<WebhookDeliveryRow[]> {
    const rows = await this.prisma.webhookDelivery.findMany({
      where: { tenantId, webhookId, ...(options.before ? { id: { lt: options.before } } : {}) },
      orderBy: { id: 'desc' },
      take: options.limit,
      include: { attemptsLog: { orderBy: { id: 'asc' } } },
    });
    return rows.map((r) => ({
      id: r.id,
      webhookId: r.webhookId,
      eventId: r.eventId,
      eventType: r.eventType,
      status: r.status,
      attempts: r.attemptsLog.length,
      nextAttemptAt: r.nextAttemptAt,
      lastResponseStatus: r.lastResponseStatus,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      attemptLog: r.attemptsLog.map((a) => ({
        attemptedAt: a.attemptedAt,
        latencyMs: a.latencyMs,
        responseStatus: a.responseStatus,
        responseBody: a.responseBody,
        error: a.error,
        ok: a.ok,
      })),
    }));
  }

  /** Posts the delivery again from the start of the schedule (its earlier attempts stay in the log). */
  async replay(tenantId: string, webhookId: string, deliveryId: string): Promise<boolean> {
    const { count } = await this.prisma.webhookDelivery.updateMany({
      where: { tenantId, webhookId, id: deliveryId },
      data: {
        status: 'pending',
        attempts: 0,
        nextAttemptAt: new Date(),
        lockedUntil: null,
        updatedAt: new Date(),
      },
    });
    return count > 0;
  }
}

async function disableEndpoint(
  tx: Tx,
  d: ClaimedDelivery,
  url: string,
  disableAfterMs: number,
): Promise<void> {
  const reason = `every delivery failed for ${Math.round(disableAfterMs / 60_000)} minutes`;
  await tx.$executeRaw`
    UPDATE webhooks SET enabled = false, disabled_reason = ${reason}, updated_at = now() WHERE id = ${d.webhookId}::uuid`;
  await tx.$executeRaw`
    INSERT INTO events (tenant_id, scope_id, type, data)
    VALUES (${d.tenantId}::uuid, ${d.webhookId}::uuid, 'webhook.disabled',
            jsonb_build_object('id', ${d.webhookId}::uuid, 'url', ${url}::text, 'reason', ${reason}::text))`;
  await tx.$executeRaw`SELECT pg_notify('quarry_events', '')`;
}
