import pg from 'pg';

/**
 * Counts every query sent through `pg` in this process (Prisma's driver adapter included, BEGIN and
 * COMMIT included): each is one round trip to PostgreSQL. A bench-only diagnostic.
 */
let sent = 0;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function counted(this: unknown, ...args: unknown[]): unknown {
    sent++;
    return original.apply(this, args);
  };
}

/** Starts counting; the returned function gives the queries sent since. */
export function countPgQueries(): () => number {
  install();
  const start = sent;
  return () => sent - start;
}
