import type { Logger } from '@quarry/telemetry';
import { createHash } from 'node:crypto';
import { Client } from 'pg';

/** Leadership among the gateway replicas: whoever holds it runs the leader-only housekeeping. */
export interface LeaderLock {
  /** Takes leadership if it is free, or confirms it is still held; true while this replica leads. */
  acquire(): Promise<boolean>;
  readonly isLeader: boolean;
  /** Gives leadership up (shutdown); another replica takes it at its next attempt. */
  release(): Promise<void>;
}

export const LEADER_LOCK = Symbol('LEADER_LOCK');

/** A stable 64-bit advisory lock key per namespace, so two installations sharing a database each get a leader. */
export function leaderLockKey(namespace: string): string {
  return createHash('sha256')
    .update(`quarry:maintenance-leader:${namespace}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/**
 * Leadership as a PostgreSQL session advisory lock on a connection of its own, kept open: the server
 * releases the lock when that session ends, so a replica that dies or loses its connection loses
 * leadership with it, and a survivor's next `pg_try_advisory_lock` succeeds. While leading, every
 * attempt checks the session is still alive, so a dead connection is noticed within one interval.
 */
export class PgAdvisoryLeaderLock implements LeaderLock {
  private client: Client | undefined;
  private leading = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly key: string,
    private readonly logger: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  async acquire(): Promise<boolean> {
    try {
      const client = this.client ?? (await this.connect());
      if (this.leading) {
        await client.query('SELECT 1');
        return true;
      }
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS locked',
        [this.key],
      );
      if (rows[0]?.locked === true && this.client === client) {
        this.leading = true;
        this.logger.info({ lockKey: this.key }, 'leading the gateway housekeeping');
      }
      return this.leading;
    } catch (error) {
      this.lose(error);
      return false;
    }
  }

  async release(): Promise<void> {
    const client = this.client;
    const wasLeading = this.leading;
    this.client = undefined;
    this.leading = false;
    if (!client) return;
    try {
      if (wasLeading) await client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]);
    } catch (error) {
      // Ending the session below releases the lock anyway.
      this.logger.warn({ err: error }, 'could not release the leader lock explicitly');
    } finally {
      await client
        .end()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'closing the leader connection'));
    }
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.databaseUrl,
      application_name: 'quarry-gateway-leader',
    });
    // A session that dies takes the lock with it: stop acting as leader at once.
    client.on('error', (error) => {
      if (this.client === client) this.lose(error);
    });
    client.on('end', () => {
      if (this.client === client) this.lose(new Error('leader connection ended'));
    });
    this.client = client;
    try {
      await client.connect();
    } catch (error) {
      this.client = undefined;
      throw error;
    }
    return client;
  }

  private lose(reason: unknown): void {
    const client = this.client;
    this.client = undefined;
    if (this.leading) this.logger.warn({ err: reason }, 'lost the gateway housekeeping leadership');
    else this.logger.debug({ err: reason }, 'leader lock connection failed');
    this.leading = false;
    // The session is already broken or abandoned: closing it is best effort, and the server ends it anyway.
    client
      ?.end()
      .catch((error: unknown) => this.logger.debug({ err: error }, 'closing a broken leader connection'));
  }
}
