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

/** Kinds of the driver adapter's errors that mean the connection, not the query, failed. */
const UNAVAILABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);

/**
 * node-postgres reports a pooled connection that died under it with a bare Error and no code; its
 * message is the only thing to go by.
 */
const PG_CONNECTION_MESSAGES = [
  'Client has encountered a connection error and is not queryable',
  'Connection terminated unexpectedly',
];

const TRANSACTION_START_TIMEOUT = 'Unable to start a transaction in the given time';

/**
 * True when an error (or anything in its `cause` chain) says the database is unreachable rather than
 * that a query was wrong: transports answer 503 / retry for these instead of 500 / dead-letter.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof Prisma.PrismaClientInitializationError) return true;
    const e = current as {
      code?: unknown;
      originalCode?: unknown;
      kind?: unknown;
      message?: unknown;
      cause?: unknown;
      meta?: { driverAdapterError?: unknown };
    };
    if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
    if (typeof e.originalCode === 'string' && UNAVAILABLE_CODES.has(e.originalCode)) return true;
    if (typeof e.kind === 'string' && UNAVAILABLE_KINDS.has(e.kind)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (PG_CONNECTION_MESSAGES.some((m) => message.includes(m))) return true;
    // P2028 covers several transaction failures; this one is the pool finding no connection within
    // maxWait, which is what a transaction looks like while the server is away (seen in the chaos
    // suite's 15 s outage). The others (a transaction expired or closed mid-way) are not outages.
    if (e.code === 'P2028' && message.includes(TRANSACTION_START_TIMEOUT)) return true;
    // Prisma wraps a SQLSTATE it has no code of its own for (57P03 while the server starts up) as
    // P2039 and keeps the driver's error under meta, not in the cause chain.
    queue.push(e.cause, e.meta?.driverAdapterError);
  }
  return false;
}
