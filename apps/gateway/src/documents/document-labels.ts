import { QuarryError, UploadClassification } from '@quarry/contracts';
import { z } from 'zod';
import { parseInput } from '../http/validation';

/** The metadata object as JSON text; it is stored on every document and returned as given. */
export const MAX_METADATA_BYTES = 16 * 1024;
const MAX_TAGS = 50;
const MAX_TAG_CHARS = 100;

export const Metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
    message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
  });

/** Tags as given, trimmed, each once, in the order first given. */
export const Tags = z
  .array(z.string().trim().min(1, 'a tag must not be empty').max(MAX_TAG_CHARS))
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
  .transform((tags) => [...new Set(tags)]);

/** What a client may say about its documents at upload, URL ingest or PATCH. */
export interface DocumentLabels {
  metadata?: Record<string, unknown>;
  tags?: string[];
}

/** The multipart field `metadata`: a JSON object. */
export function parseMetadataField(raw: string): Record<string, unknown> {
  return parseInput(Metadata, parseJsonField(raw, 'metadata'), 'metadata');
}

/** The multipart field `tags`: a JSON array of strings, or the tags separated by commas. */
export function parseTagsField(raw: string): string[] {
  const trimmed = raw.trim();
  const value = trimmed.startsWith('[')
    ? parseJsonField(trimmed, 'tags')
    : trimmed.split(',').filter((t) => t.trim() !== '');
  return parseInput(Tags, value, 'tags');
}

function parseJsonField(raw: string, field: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (cause) {
    throw new QuarryError('validation_failed', `${field}: not valid JSON`, { cause });
  }
}

/**
 * RFC 7396 JSON merge patch of a metadata object: a key set to null is removed, an object merges into what is there
 * (an object, or nothing), anything else replaces.
 */
export function mergeMetadata(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isPlainObject(value)) out[key] = mergeMetadata(isPlainObject(current) ? current : {}, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The `classify` field of an upload (multipart field or query parameter): `{"labels": [...], "multiLabel": …}`, a
 * JSON array of labels (`{name, description?}`), or label names separated by commas.
 */
export function parseClassifyField(raw: string): UploadClassification {
  const trimmed = raw.trim();
  let value: unknown;
  if (trimmed.startsWith('{')) value = parseJsonField(trimmed, 'classify');
  else if (trimmed.startsWith('[')) value = { labels: parseJsonField(trimmed, 'classify') };
  else
    value = {
      labels: trimmed
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '')
        .map((name) => ({ name })),
    };
  return parseInput(UploadClassification, value, 'classify');
}
