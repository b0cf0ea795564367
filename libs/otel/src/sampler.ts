import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

/**
 * Decides about spans that have no parent. A trace starts only where a unit of work starts: an HTTP
 * request, a delivered message, a publish. A root database query is a background poll (the outbox
 * sweep, the stuck-job sweeper, retention) that runs every few seconds; recorded, it would bury the
 * jobs' traces in Jaeger under thousands of one-span traces. Spans with a parent follow the parent.
 */
export class UnitOfWorkRootSampler implements Sampler {
  shouldSample(
    _context: Context,
    _traceId: string,
    _spanName: string,
    spanKind: SpanKind,
    _attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    const startsWork =
      spanKind === SpanKind.SERVER || spanKind === SpanKind.CONSUMER || spanKind === SpanKind.PRODUCER;
    return { decision: startsWork ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return 'UnitOfWorkRootSampler';
  }
}
