import { Prisma } from '../generated/prisma/client';

/** Node socket errors and PostgreSQL SQLSTATEs that mean "the database is not there right now". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '3D000', // invalid_catalog_name: the database is gone
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // Prisma's own: can't reach server, timed out, database missing, connection closed, pool timeout.
  'P1001',
  'P1002',
  'P1003', // database does not exist
  'P1017',
  'P2024',
]);

/**
 * True when an error (or anything in its `cause` chain) says the database is unreachable rather than
 * that a query was wrong: transports answer 503 / retry for these instead of 500 / dead-letter.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    if (current instanceof Prisma.PrismaClientInitializationError) return true;
    const e = current as { code?: unknown; originalCode?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
    if (typeof e.originalCode === 'string' && UNAVAILABLE_CODES.has(e.originalCode)) return true;
    current = e.cause;
  }
  return false;
}
