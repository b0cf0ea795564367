import { QuarryError } from '@quarry/contracts';
import { outcomeOfError } from './command-consumer';
import { retryDelayMs } from './handler';

describe('retry policy', () => {
  it('grows exponentially and stays within the bound', () => {
    const mid = () => 0.5;
    expect(retryDelayMs(1, 100, 10_000, mid)).toBe(75);
    expect(retryDelayMs(2, 100, 10_000, mid)).toBe(150);
    expect(retryDelayMs(20, 100, 10_000, () => 1)).toBe(10_000);
  });

  it('maps transient errors to retry and permanent ones to dead letter', () => {
    expect(outcomeOfError(new QuarryError('dependency_unavailable', 'x')).kind).toBe('retry');
    expect(outcomeOfError(new QuarryError('corrupt_pdf', 'x')).kind).toBe('dead_letter');
    expect(outcomeOfError(new Error('connection reset')).kind).toBe('retry');
  });

  it("naks with the delay a server asked for (Retry-After), and with the backoff's when none was given", () => {
    const asked = outcomeOfError(new QuarryError('llm_unavailable', '429', { retryAfterMs: 7_000 }));
    expect(asked).toMatchObject({ kind: 'retry', delayMs: 7_000 });
    expect(outcomeOfError(new QuarryError('llm_unavailable', '503'))).not.toHaveProperty('delayMs');
  });
});
