import { isDatabaseUnavailable } from './database-errors';

/** The shape Prisma 7 gives a driver error it has no code of its own for. */
const driverError = (sqlState: string) =>
  Object.assign(new Error(`Database error. Code: \`${sqlState}\``), {
    code: 'P2039',
    meta: {
      driverAdapterError: {
        name: 'DriverAdapterError',
        cause: { kind: 'postgres', code: sqlState, originalCode: sqlState },
      },
    },
  });

describe('isDatabaseUnavailable', () => {
  it('finds the SQLSTATE Prisma keeps under meta.driverAdapterError (57P03 while the server starts up)', () => {
    expect(isDatabaseUnavailable(driverError('57P03'))).toBe(true);
  });

  it('knows a raw query that could not reach the server by the adapter error kind (P2010)', () => {
    const error = Object.assign(new Error("Raw query failed. Message: `Can't reach database server`"), {
      code: 'P2010',
      meta: {
        driverAdapterError: {
          name: 'DriverAdapterError',
          cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 },
        },
      },
    });
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('knows the bare error node-postgres gives for a pooled connection that died', () => {
    expect(
      isDatabaseUnavailable(new Error('Client has encountered a connection error and is not queryable')),
    ).toBe(true);
  });

  it('takes a transaction that found no pooled connection in time (P2028) for an outage, not other P2028s', () => {
    const p2028 = (message: string) => Object.assign(new Error(message), { code: 'P2028' });
    expect(
      isDatabaseUnavailable(p2028('Transaction API error: Unable to start a transaction in the given time.')),
    ).toBe(true);
    expect(
      isDatabaseUnavailable(p2028('Transaction API error: Transaction already closed: the timeout expired.')),
    ).toBe(false);
  });

  it('does not take a query error for an outage', () => {
    expect(isDatabaseUnavailable(driverError('23505'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
  });

  it('follows the cause chain to a socket error', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(
      isDatabaseUnavailable(new Error('wrapped', { cause: new Error('again', { cause: socket }) })),
    ).toBe(true);
  });

  it('survives a cycle in the chain', () => {
    const a: { cause?: unknown } = {};
    a.cause = { cause: a };
    expect(isDatabaseUnavailable(a)).toBe(false);
  });
});
