import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export interface CreatePrismaClientOptions {
  databaseUrl: string;
  /** Connections in the pg pool behind the client; pg's default (10) when omitted. */
  poolMax?: number;
}

/**
 * The generated Prisma 7 client on a `pg` pool through the driver adapter: no query engine binary,
 * nothing downloaded at run time. Call `$disconnect()` to close the pool.
 */
export function createPrismaClient(options: CreatePrismaClientOptions): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: options.databaseUrl,
    ...(options.poolMax === undefined ? {} : { max: options.poolMax }),
  });
  return new PrismaClient({ adapter });
}
