import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * What an API key may do (ADR 31). Independent, not nested: a route needs exactly one of them and a key holds a set,
 * so a key that only manages keys cannot read documents, and a key that reads cannot upload.
 */
export const ApiKeyScope = z.enum(['read', 'write', 'admin']);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

/** Every scope, in their canonical order: what keys made by `ops api-key <tenant> <key>` and the bootstrap key hold. */
export const ALL_API_KEY_SCOPES: readonly ApiKeyScope[] = ApiKeyScope.options;

/** A set of scopes as given (an API body, `--scopes read,write`): at least one, each known, stored in canonical order. */
export const ApiKeyScopes = z
  .array(ApiKeyScope)
  .min(1, 'name at least one scope')
  .transform((scopes) => ALL_API_KEY_SCOPES.filter((s) => scopes.includes(s)));

/** `read,write` → ['read', 'write']; throws a readable message on an unknown or missing scope. */
export function parseScopeList(text: string): ApiKeyScope[] {
  const parsed = ApiKeyScopes.safeParse(
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  if (!parsed.success) {
    throw new Error(`scopes must be a comma-separated list of ${ALL_API_KEY_SCOPES.join(', ')}`);
  }
  return parsed.data;
}

/** What a key made by Quarry looks like: `qk_<8 hex: the prefix shown in lists>_<40 hex: 160 random bits>`. */
export const MINTED_API_KEY = /^qk_[0-9a-f]{8}_[0-9a-f]{40}$/;

/**
 * A new key and the part of it kept in clear for telling keys apart. The secret half has 160 random bits, so a
 * plain sha256 of the whole key is as good as a slow hash: there is nothing to guess from a dictionary.
 */
export function mintApiKey(random: (bytes: number) => Buffer = randomBytes): { key: string; prefix: string } {
  const prefix = `qk_${random(4).toString('hex')}`;
  return { key: `${prefix}_${random(20).toString('hex')}`, prefix };
}
