import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export interface CreatePrismaClientOptions {
  databaseUrl: string;
  /** Connections in the pg pool behind the client; pg's default (10) when omitted. */
  poolMax?: number;
  /**
   * How many distinct statement texts may become named prepared statements on each connection (see
   * `preparedStatementNames`); 0 sends every statement unnamed. Default 256.
   */
  preparedStatements?: number;
  /** Settings every connection of the pool starts its session with (the startup packet's `options`). */
  sessionSettings?: Readonly<Record<string, string>>;
}

/**
 * The generated Prisma 7 client on a `pg` pool through the driver adapter: no query engine binary,
 * nothing downloaded at run time. Call `$disconnect()` to close the pool.
 */
export function createPrismaClient(options: CreatePrismaClientOptions): PrismaClient {
  const limit = options.preparedStatements ?? 256;
  const adapter = new PrismaPg(
    {
      connectionString: options.databaseUrl,
      ...(options.poolMax === undefined ? {} : { max: options.poolMax }),
      ...(options.sessionSettings
        ? {
            options: Object.entries(options.sessionSettings)
              .map(([name, value]) => `-c ${name}=${value}`)
              .join(' '),
          }
        : {}),
    },
    limit > 0 ? { statementNameGenerator: preparedStatementNames(limit) } : {},
  );
  return new PrismaClient({ adapter });
}

/**
 * Names statement texts that recur so that `pg` prepares each once per connection and PostgreSQL keeps it
 * parsed and planned, instead of parsing and planning it on every execution as it does an unnamed one. The
 * hot-path transitions are CTEs over several tables whose planning costs PostgreSQL about 1 ms each time,
 * five times their execution (ADR 23). A text is named on its second sighting, so one-off texts (model
 * queries whose `IN` lists vary in length) stay unnamed; at most `limit` texts are ever named, which bounds
 * the statements each connection keeps. An empty name tells `pg` to use the unnamed statement.
 */
export function preparedStatementNames(limit: number): (query: { sql: string }) => string {
  const named = new Map<string, string>();
  const seenOnce = new Set<string>();
  return ({ sql }) => {
    const name = named.get(sql);
    if (name !== undefined) return name;
    if (named.size >= limit) return '';
    if (!seenOnce.has(sql)) {
      // Bounded like the names: a flood of one-off texts only resets who has been seen once.
      if (seenOnce.size >= 4 * limit) seenOnce.clear();
      seenOnce.add(sql);
      return '';
    }
    seenOnce.delete(sql);
    const fresh = `quarry_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    named.set(sql, fresh);
    return fresh;
  };
}
