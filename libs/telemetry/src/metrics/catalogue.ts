/**
 * The one catalogue of Quarry's Prometheus metrics. Apps create their instruments from it (so a name
 * or label set is written once), the deploy tests check that every metric a Grafana panel or an alert
 * rule queries is listed here, and `docs/operations.md` explains each one.
 */
export type MetricKind = 'counter' | 'gauge' | 'histogram';
export type QuarryApp = 'gateway' | 'ingest-worker' | 'analysis-worker';

export interface MetricDefinition {
  kind: MetricKind;
  help: string;
  labels: readonly string[];
  /** Which apps export it (after a job has passed through them). */
  apps: readonly QuarryApp[];
  buckets?: readonly number[];
}

/** Seconds; from a 5 ms database step to a 10-minute PDF. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const WORKERS = ['ingest-worker', 'analysis-worker'] as const;
const ALL = ['gateway', 'ingest-worker', 'analysis-worker'] as const;

export const METRICS = {
  quarry_build_info: {
    kind: 'gauge',
    help: 'Always 1; labels say which app and version is running.',
    labels: ['version'],
    apps: ALL,
  },
  quarry_http_requests_total: {
    kind: 'counter',
    help: 'HTTP requests answered by the gateway, by route template and status code.',
    labels: ['method', 'route', 'status'],
    apps: ['gateway'],
  },
  quarry_http_request_duration_seconds: {
    kind: 'histogram',
    help: 'Time to answer an HTTP request, by route template.',
    labels: ['method', 'route'],
    apps: ['gateway'],
    buckets: DURATION_BUCKETS,
  },
  quarry_jobs_created_total: {
    kind: 'counter',
    help: 'Jobs accepted (a 202 answered), by job type and lane.',
    labels: ['type', 'lane'],
    apps: ['gateway'],
  },
  quarry_jobs_finished_total: {
    kind: 'counter',
    help: 'Jobs that reached a final status (succeeded, completed_with_failures, failed, cancelled), by type.',
    labels: ['type', 'status'],
    apps: ALL,
  },
  quarry_job_duration_seconds: {
    kind: 'histogram',
    help: 'From a job being accepted to its final status, by type and final status.',
    labels: ['type', 'status'],
    apps: ALL,
    buckets: DURATION_BUCKETS,
  },
  quarry_step_duration_seconds: {
    kind: 'histogram',
    help: "One delivery of a job step's command, from pull to outcome, by step and outcome (ack, retry, dead_letter).",
    labels: ['step', 'outcome'],
    apps: WORKERS,
    buckets: DURATION_BUCKETS,
  },
  quarry_messages_processed_total: {
    kind: 'counter',
    help: 'Command deliveries handled, by step, lane and outcome (ack, retry, dead_letter, requeue).',
    labels: ['step', 'lane', 'outcome'],
    apps: WORKERS,
  },
  quarry_redeliveries_total: {
    kind: 'counter',
    help: 'Deliveries of a command that had been delivered before (delivery count > 1), by step.',
    labels: ['step', 'lane'],
    apps: WORKERS,
  },
  quarry_dead_letters_total: {
    kind: 'counter',
    help: 'Commands moved to the dead-letter stream by a worker, by step and error code.',
    labels: ['step', 'code'],
    apps: WORKERS,
  },
  quarry_dead_letters_recorded_total: {
    kind: 'counter',
    help: 'Dead letters recorded in PostgreSQL by the gateway (one per dead-lettered command), by step and code.',
    labels: ['step', 'code'],
    apps: ['gateway'],
  },
  quarry_consumer_pending_messages: {
    kind: 'gauge',
    help: 'Messages in the work queue not yet delivered to the durable consumer (its lag), read from JetStream at scrape time.',
    labels: ['stream', 'consumer'],
    apps: ALL,
  },
  quarry_consumer_ack_pending_messages: {
    kind: 'gauge',
    help: 'Messages delivered to the durable consumer and not yet acknowledged, read from JetStream at scrape time.',
    labels: ['stream', 'consumer'],
    apps: ALL,
  },
  quarry_consumer_redelivered_messages: {
    kind: 'gauge',
    help: 'Messages the durable consumer has delivered more than once and not yet acknowledged, read from JetStream.',
    labels: ['stream', 'consumer'],
    apps: ALL,
  },
  quarry_documents_processed_total: {
    kind: 'counter',
    help: 'Documents through a step, by step and result (succeeded, failed) and, for failures, the error code.',
    labels: ['step', 'result', 'code'],
    apps: WORKERS,
  },
  quarry_analyses_total: {
    kind: 'counter',
    help: 'Analysis jobs ended by the analysis worker, by analysis type, result (succeeded, failed) and error code.',
    labels: ['analysis', 'result', 'code'],
    apps: ['analysis-worker'],
  },
  quarry_llm_tokens_total: {
    kind: 'counter',
    help: 'Tokens a language model counted for the analyses, by model and kind (prompt, completion).',
    labels: ['model', 'kind'],
    apps: ['analysis-worker'],
  },
  quarry_embedding_tokens_total: {
    kind: 'counter',
    help: 'Tokens a remote embedding model (openai provider) counted, by model.',
    labels: ['model'],
    apps: ['analysis-worker'],
  },
  quarry_pages_extracted_total: {
    kind: 'counter',
    help: 'Pages of text extracted, by detected document type and how (text_layer, ocr, parsed).',
    labels: ['type', 'method'],
    apps: ['ingest-worker'],
  },
  quarry_ocr_pages_total: {
    kind: 'counter',
    help: 'Pages through OCR, by engine (tesseract-cli, tesseract-js) and result (ok, low_confidence, failed).',
    labels: ['engine', 'result'],
    apps: ['ingest-worker'],
  },
  quarry_ocr_page_duration_seconds: {
    kind: 'histogram',
    help: 'OCR of one page (rendering excluded), by engine.',
    labels: ['engine'],
    apps: ['ingest-worker'],
    buckets: DURATION_BUCKETS,
  },
  quarry_url_fetches_total: {
    kind: 'counter',
    help: 'URL fetches of URL documents, by outcome (fetched, or the url_* failure code).',
    labels: ['outcome'],
    apps: ['ingest-worker'],
  },
  quarry_extraction_duration_seconds: {
    kind: 'histogram',
    help: 'Parsing one document (type detection, text extraction), by detected type.',
    labels: ['type'],
    apps: ['ingest-worker'],
    buckets: DURATION_BUCKETS,
  },
  quarry_chunks_indexed_total: {
    kind: 'counter',
    help: 'Chunks embedded and stored, by embedding model.',
    labels: ['model'],
    apps: ['analysis-worker'],
  },
  quarry_embedding_duration_seconds: {
    kind: 'histogram',
    help: 'One embedding batch, by provider and model.',
    labels: ['provider', 'model'],
    apps: ['analysis-worker'],
    buckets: DURATION_BUCKETS,
  },
  quarry_ocr_duration_seconds: {
    kind: 'histogram',
    help: 'OCR of one page image. Registered now so dashboards and alerts are stable; Quarry has no OCR step yet (images are unsupported_type), so it stays empty until that step lands.',
    labels: ['engine'],
    apps: ['ingest-worker'],
    buckets: DURATION_BUCKETS,
  },
  quarry_search_duration_seconds: {
    kind: 'histogram',
    help: 'Answering one search request in the analysis worker (embedding the query and the vector search).',
    labels: ['result'],
    apps: ['analysis-worker'],
    buckets: DURATION_BUCKETS,
  },
  quarry_outbox_published_total: {
    kind: 'counter',
    help: 'Outbox rows published to JetStream, by path: fast (right after the commit) or sweep (left behind by a crash or outage).',
    labels: ['path'],
    apps: ALL,
  },
  quarry_events_published_total: {
    kind: 'counter',
    help: "Public events (ADR 30) the gateway's relay took from the events table, by outcome: published to QUARRY_EVENTS, or coalesced into a later progress event of the same job.",
    labels: ['outcome'],
    apps: ['gateway'],
  },
  quarry_webhook_attempts_total: {
    kind: 'counter',
    help: 'Posts of webhook deliveries, by result: ok (2xx), http_error (another status) or unreachable (no answer, timeout, refused by the SSRF guard).',
    labels: ['result'],
    apps: ['gateway'],
  },
  quarry_stalled_jobs_redriven_total: {
    kind: 'counter',
    help: "Commands of stalled jobs re-published by the gateway's sweeper.",
    labels: [],
    apps: ['gateway'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export type MetricLabels<N extends MetricName> = (typeof METRICS)[N]['labels'][number];

/** Prefix of the Node.js process metrics (CPU, memory, event-loop lag) every app also exports. */
export const PROCESS_METRICS_PREFIX = 'quarry_';

/** Names a PromQL expression may use for a catalogue metric (histograms expose three series). */
export function exportedSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const [name, def] of Object.entries(METRICS) as [string, MetricDefinition][]) {
    if (def.kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    else names.add(name);
  }
  return names;
}
