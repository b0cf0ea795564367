import { Webhook } from 'standardwebhooks';
import type { QuarryEvent } from './types';

/**
 * Checks a webhook delivery the way Standard Webhooks says (the `webhook-id`, `webhook-timestamp` and
 * `webhook-signature` headers, an HMAC-SHA256 of id, timestamp and body, within five minutes) and returns its event.
 * Throws when the signature or the timestamp is wrong. `rawBody` must be the body exactly as received.
 */
export function verifyWebhook(
  secret: string,
  rawBody: string | Uint8Array,
  headers: Record<string, string | string[] | undefined> | Headers,
): QuarryEvent {
  const flat: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((value, name) => (flat[name.toLowerCase()] = value));
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return new Webhook(secret).verify(rawBody, flat) as QuarryEvent;
}
