import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signedHeaders } from './webhook-signature';

describe('webhook signatures', () => {
  it('are verified by the Standard Webhooks library with either secret during an overlap', () => {
    const [old, fresh] = [newWebhookSecret(), newWebhookSecret()];
    const body = JSON.stringify({ type: 'job.succeeded' });
    const headers = signedHeaders([fresh, old], 'evt-1', new Date(), body);
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(new Webhook(old).verify(body, headers)).toEqual({ type: 'job.succeeded' });
    expect(new Webhook(fresh).verify(body, headers)).toEqual({ type: 'job.succeeded' });
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(fresh).verify(`${body} `, headers)).toThrow();
  });

  it('are refused when too old (replay protection is the receiver library’s)', () => {
    const secret = newWebhookSecret();
    const body = '{}';
    const headers = signedHeaders([secret], 'evt-2', new Date(Date.now() - 10 * 60_000), body);
    expect(() => new Webhook(secret).verify(body, headers)).toThrow(/timestamp/i);
  });
});
