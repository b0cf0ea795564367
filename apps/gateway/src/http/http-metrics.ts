import type { QuarryMetrics } from '@quarry/telemetry';
import type { FastifyInstance } from 'fastify';

/** The route label of a request that matched no route (404s, scanners): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts and times every answered request by its route template (`/v1/jobs/:id`), never by its URL:
 * ids in URLs would make a series per job. Registered before Nest adds its routes.
 */
export function observeHttpRequests(
  fastify: FastifyInstance,
  metrics: Pick<QuarryMetrics, 'counter' | 'histogram'>,
): void {
  const requests = metrics.counter('quarry_http_requests_total');
  const duration = metrics.histogram('quarry_http_request_duration_seconds');
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const method = request.method;
    requests.inc({ method, route, status: reply.statusCode });
    duration.observe({ method, route }, reply.elapsedTime / 1000);
    done();
  });
}
