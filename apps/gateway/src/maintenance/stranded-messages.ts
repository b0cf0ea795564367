/** A message a consumer delivered that is still in the stream, with what the database says of its work. */
export interface UnackedMessage {
  seq: number;
  /**
   * Deliveries of its document's current step (or its job's) that reached a claim; null when the database knows
   * nothing of it (its job was purged, or it names nothing of ours).
   */
  attempts: number | null;
  /** Its job's last sign of life; null when unknown. */
  quietSince: Date | null;
}

export interface StrandedInput {
  /** Messages the consumer had out (with a worker, or due again) just before `messages` were read. */
  ackPending: number;
  messages: readonly UnackedMessage[];
  /** A message whose job showed a sign of life more recently than this is with a worker, not stranded. */
  quietAfterMs: number;
  now: Date;
}

/**
 * Which of a consumer's delivered, unacknowledged messages are stranded at its delivery limit (ADR 33). JetStream
 * says how many messages it has out but not which, so `messages.length - ackPending` is a floor on the stranded
 * ones among them: with nothing out, every one is stranded. Otherwise that many are chosen, only among messages
 * whose job has been quiet for `quietAfterMs` (a worker on it reports progress), the likeliest first: the most
 * deliveries that reached a claim (a stranded message has had them all; a document's first delivery hanging in a
 * worker has one), unknown ones before known, then the quietest. Choosing a message that was still out costs its
 * document a dead letter, which a replay answers; leaving a stranded one costs nothing until the next scan.
 */
export function strandedMessages(input: StrandedInput): number[] {
  const floor = input.messages.length - input.ackPending;
  if (floor <= 0) return [];
  if (floor >= input.messages.length) return input.messages.map((m) => m.seq);
  const now = input.now.getTime();
  return input.messages
    .filter((m) => m.quietSince === null || now - m.quietSince.getTime() >= input.quietAfterMs)
    .sort(
      (a, b) =>
        (b.attempts ?? Infinity) - (a.attempts ?? Infinity) ||
        (a.quietSince?.getTime() ?? 0) - (b.quietSince?.getTime() ?? 0) ||
        a.seq - b.seq,
    )
    .slice(0, floor)
    .map((m) => m.seq);
}
