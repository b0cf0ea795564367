import { QuarryError } from '@quarry/contracts';
import type { z } from 'zod';

/** Parses request input with a zod schema; failures become 400 `validation_failed` naming each field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new QuarryError('validation_failed', `invalid ${what}: ${problems.join('; ')}`, {
    details: { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}
