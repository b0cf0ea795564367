import { createHash } from 'node:crypto';
import { QuarryError } from '@quarry/contracts';
import { z } from 'zod';
import { parseInput } from './validation';

/** The request pieces every feature shares: ids, idempotency keys, list paging and its cursor. */

export const Uuid = z.uuid({ message: 'must be a UUID' });

export const IdempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** `Idempotency-Key` header: absent is null, present must be a valid key (400 otherwise). */
export const parseIdempotencyKey = (header: string | undefined): string | null =>
  header === undefined ? null : parseInput(IdempotencyKey, header, 'Idempotency-Key');

/** `limit` and `cursor` of every list route; extend it with the route's own filters. */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** Where a newest-first list continues: the last item's creation time and id. */
export interface PageCursor {
  createdAt: Date;
  id: string;
}

/** An opaque, URL-safe cursor for a list's next page. */
export function encodeCursor(c: PageCursor): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(raw: string): PageCursor {
  const [at, id] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime()) || !Uuid.safeParse(id).success) {
    throw new QuarryError('validation_failed', 'invalid cursor: pass back the nextCursor of a previous page');
  }
  return { createdAt, id };
}

/**
 * Where a ranked list (search) continues: how many results came before, and a fingerprint of the request they
 * were ranked for, so a cursor passed with another query is refused instead of paging through the wrong list.
 */
export interface RankCursor {
  offset: number;
  fingerprint: string;
}

/** A short, stable fingerprint of a request's ranking inputs (query, mode, filter, page size). */
export function rankFingerprint(inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('base64url').slice(0, 16);
}

export function encodeRankCursor(c: RankCursor): string {
  return Buffer.from(`${c.offset}|${c.fingerprint}`, 'utf8').toString('base64url');
}

export function decodeRankCursor(raw: string, fingerprint: string): number {
  const [offset, print] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const n = Number(offset);
  if (!Number.isInteger(n) || n < 0 || print === undefined) {
    throw new QuarryError('validation_failed', 'invalid cursor: pass back the nextCursor of a previous page');
  }
  if (print !== fingerprint) {
    throw new QuarryError(
      'validation_failed',
      'cursor belongs to another search: send the same query, mode, filter and topK with it',
    );
  }
  return n;
}
