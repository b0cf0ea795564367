import { QuarryError } from '@quarry/contracts';

/**
 * The QuarryError a promise rejects with, so a test can look at its code and details; any other outcome (it
 * resolves, or rejects with something else) fails the test with what happened instead.
 */
export async function quarryFailure(promise: Promise<unknown>): Promise<QuarryError> {
  const outcome: unknown = await promise.then(
    () => new Error('expected a QuarryError, but the promise resolved'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof QuarryError)) throw outcome;
  return outcome;
}
