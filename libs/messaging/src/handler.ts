import type { CommandName, CommandPayload, ErrorInfo } from '@quarry/contracts';

/**
 * What a handler decided. Handlers never touch the message: only the messaging layer acks, naks with
 * a delay, or terminates (after dead-lettering).
 */
export type HandlerOutcome =
  | { kind: 'ack' }
  | { kind: 'retry'; error: ErrorInfo; delayMs?: number }
  | { kind: 'dead_letter'; error: ErrorInfo };

export const Outcome = {
  ack: (): HandlerOutcome => ({ kind: 'ack' }),
  retry: (error: ErrorInfo, delayMs?: number): HandlerOutcome =>
    delayMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, delayMs },
  deadLetter: (error: ErrorInfo): HandlerOutcome => ({ kind: 'dead_letter', error }),
};

export interface DeliveryContext {
  subject: string;
  msgId: string | undefined;
  /** 1 on first delivery. */
  deliveryCount: number;
  /** Deliveries a handler gets before the message is dead-lettered. */
  maxDeliver: number;
  traceparent: string | undefined;
  /** Aborted when the process is shutting down: stop at the next safe boundary and return a retry. */
  signal: AbortSignal;
  /**
   * Resets the server's ack timer. The consumer already calls it on a timer while the handler runs; a handler
   * may call it too, after a long synchronous stretch.
   */
  working(): void;
}

export interface CommandHandler<N extends CommandName> {
  handle(payload: CommandPayload<N>, ctx: DeliveryContext): Promise<HandlerOutcome>;
  /**
   * Called once when the message is dead-lettered (delivery limit, or a permanent error), so the job
   * can record the failure instead of staying non-terminal.
   */
  onDeadLetter?(payload: CommandPayload<N>, error: ErrorInfo): Promise<void>;
}

/** Exponential backoff with jitter, bounded. */
export function retryDelayMs(
  deliveryCount: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
