import { TERMINAL_JOB_STATUSES } from '@quarry/contracts';
import { waitFor } from '@quarry/testing';
import type { ChaosStack } from './chaos-stack';
import type { AcceptedJob } from './load';

export interface InvariantReport {
  /** Accepted (202) jobs the system no longer knows: not in PostgreSQL or a 404 from the API. */
  lost: number;
  /** Documents with more chunk or page rows than they should have, or jobs/documents created twice. */
  duplicated: number;
  /** Jobs (accepted or not: a commit whose 202 never arrived counts too) not terminal at the deadline. */
  stuck: number;
  /** Documents that failed although nothing was wrong with them (in these scenarios, every fault passes). */
  failed: number;
  /** A job whose status disagrees with its documents, the API, its event, or missing chunks. */
  inconsistent: number;
  /** Commands left in the work-queue stream or unacknowledged, and outbox rows never published. */
  leftover: number;
  /** Examples of each violation, for the failure message. */
  examples: string[];
}

const TERMINAL = TERMINAL_JOB_STATUSES as readonly string[];

/**
 * Waits until every accepted job is terminal, or until nothing has finished for `stallMs` (then
 * what is still open is stuck). Returns the ids still open.
 */
export async function waitForTerminal(
  stack: ChaosStack,
  ids: string[],
  options: { stallMs: number; capMs: number },
): Promise<string[]> {
  const started = Date.now();
  let lastOpen = Number.POSITIVE_INFINITY;
  let lastProgress = Date.now();
  for (;;) {
    // Every job in the database counts, not only accepted ones: an upload whose 202 was lost with
    // the gateway still committed a job that must finish.
    const { rows } = await stack.sql.query<{ id: string }>(
      `SELECT id FROM jobs WHERE status::text <> ALL($1::text[])
       UNION
       SELECT x FROM unnest($2::uuid[]) AS x WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = x)`,
      [TERMINAL, ids],
    );
    const open = rows.map((r) => r.id);
    if (open.length === 0) return [];
    if (open.length < lastOpen) {
      lastOpen = open.length;
      lastProgress = Date.now();
    }
    if (Date.now() - lastProgress > options.stallMs || Date.now() - started > options.capMs) {
      process.stdout.write(`[chaos] ${open.length} jobs still open after ${Date.now() - started} ms\n`);
      return open;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** After the last job finished, its acks and outbox rows follow within moments; give them that. */
async function settle(stack: ChaosStack): Promise<{ queued: number; unsent: number; detail: string }> {
  let last = { queued: 0, unsent: 0, detail: '' };
  try {
    await waitFor(
      async () => {
        const stream = await stack.jsm.streams.info(stack.ns.topology.jobsStream);
        const consumers = await stack.consumers();
        const { rows } = await stack.sql.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL',
        );
        const unacked = consumers.reduce((a, c) => a + c.pending + c.ackPending, 0);
        last = {
          queued: Math.max(stream.state.messages, unacked),
          unsent: rows[0]?.n ?? 0,
          detail: `stream messages=${stream.state.messages} ${consumers
            .map((c) => `${c.name}: pending=${c.pending} ack_pending=${c.ackPending}`)
            .join(', ')} outbox unsent=${rows[0]?.n ?? 0}`,
        };
        return last.queued === 0 && last.unsent === 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'queues and outbox drained' },
    );
  } catch {
    // What is left is reported as `leftover` with its detail.
  }
  return last;
}

/**
 * Terminal job events on QUARRY_EVENTS, per job id. Read message by message from the stream leader:
 * creating a consumer on a cluster that has lost a node times out now and then on NATS 2.9, a direct
 * read does not.
 */
async function terminalEvents(stack: ChaosStack): Promise<Map<string, number>> {
  const t = stack.ns.topology;
  const info = await stack.jsm.streams.info(t.eventsStream);
  const terminal = new Set([t.eventSubject('completed'), t.eventSubject('failed')]);
  const counts = new Map<string, number>();
  let next = info.state.first_seq;
  const last = info.state.last_seq;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (info.state.messages > 0 && next <= last) {
        const seq = next++;
        const msg = await stack.jsm.streams.getMessage(t.eventsStream, { seq });
        // A sequence without a message is one the stream deleted (none here: limits retention, no max).
        if (!msg || !terminal.has(msg.subject)) continue;
        const { jobId } = msg.json<{ jobId: string }>();
        counts.set(jobId, (counts.get(jobId) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

/** Every invariant of a scenario, checked from PostgreSQL, the API and JetStream. */
export async function checkInvariants(
  stack: ChaosStack,
  accepted: AcceptedJob[],
  options: { stillOpen: string[]; poisonExpected: boolean },
): Promise<InvariantReport> {
  const examples: string[] = [];
  const note = (s: string) => {
    if (examples.length < 12) examples.push(s);
  };
  const ids = accepted.map((j) => j.id);

  const { rows: jobs } = await stack.sql.query<{
    id: string;
    status: string;
    idempotency_key: string | null;
    finished_at: Date | null;
    docs: number;
    indexed: number;
    failed: number;
    open: number;
    poison_failed: number;
    other_failed: number;
  }>(
    `SELECT j.id, j.status::text, j.idempotency_key, j.finished_at,
            count(d.id)::int AS docs,
            count(*) FILTER (WHERE d.status = 'indexed')::int AS indexed,
            count(*) FILTER (WHERE d.status = 'failed')::int AS failed,
            count(*) FILTER (WHERE d.status NOT IN ('indexed', 'failed', 'cancelled'))::int AS open,
            count(*) FILTER (WHERE d.status = 'failed' AND d.filename LIKE '%-poison.txt')::int AS poison_failed,
            count(*) FILTER (WHERE d.status = 'failed' AND d.filename NOT LIKE '%-poison.txt')::int AS other_failed
       FROM jobs j LEFT JOIN documents d ON d.job_id = j.id
      GROUP BY j.id`,
  );
  const byId = new Map(jobs.map((j) => [j.id, j]));

  let lost = 0;
  for (const a of accepted) {
    if (!byId.has(a.id)) {
      lost++;
      note(`lost: accepted job ${a.id} (${a.key}) is not in the database`);
    }
  }
  // A job missing from the database is lost, not also stuck.
  const stuckIds = new Set(options.stillOpen.filter((id) => byId.has(id)));
  for (const j of jobs) if (!TERMINAL.includes(j.status)) stuckIds.add(j.id);
  for (const id of stuckIds) note(`stuck: job ${id} is ${byId.get(id)?.status ?? 'missing'}`);

  // Duplicates: a job created twice for one key, a document row too many, chunk or page rows twice.
  let duplicated = 0;
  const perKey = new Map<string, number>();
  for (const j of jobs)
    if (j.idempotency_key) perKey.set(j.idempotency_key, (perKey.get(j.idempotency_key) ?? 0) + 1);
  for (const [key, n] of perKey) {
    if (n > 1) {
      duplicated++;
      note(`duplicated: ${n} jobs for Idempotency-Key ${key}`);
    }
  }
  for (const a of accepted) {
    const j = byId.get(a.id);
    if (j && j.docs !== a.documents) {
      duplicated++;
      note(`duplicated: job ${a.id} has ${j.docs} documents, uploaded ${a.documents}`);
    }
  }
  const { rows: rowCounts } = await stack.sql.query<{
    id: string;
    status: string;
    chunk_count: number | null;
    page_count: number | null;
    chunks: number;
    ordinals: number;
    min_ordinal: number | null;
    max_ordinal: number | null;
    pages: number;
    page_numbers: number;
  }>(
    `SELECT d.id, d.status::text, d.chunk_count, d.page_count,
            coalesce(c.n, 0) AS chunks, coalesce(c.o, 0) AS ordinals, c.min_o AS min_ordinal, c.max_o AS max_ordinal,
            coalesce(p.n, 0) AS pages, coalesce(p.p, 0) AS page_numbers
       FROM documents d
       LEFT JOIN (SELECT document_id, count(*)::int n, count(DISTINCT ordinal)::int o,
                         min(ordinal) min_o, max(ordinal) max_o
                    FROM chunks GROUP BY document_id) c ON c.document_id = d.id
       LEFT JOIN (SELECT document_id, count(*)::int n, count(DISTINCT page_number)::int p
                    FROM pages GROUP BY document_id) p ON p.document_id = d.id`,
  );
  let inconsistent = 0;
  for (const d of rowCounts) {
    const dupChunks = d.chunks !== d.ordinals || (d.status === 'indexed' && d.chunks > (d.chunk_count ?? 0));
    const dupPages = d.pages !== d.page_numbers || (d.page_count !== null && d.pages > d.page_count);
    if (dupChunks || dupPages) {
      duplicated++;
      note(
        `duplicated: document ${d.id} chunks=${d.chunks} (distinct ordinals ${d.ordinals}, chunk_count ${d.chunk_count}) pages=${d.pages} (distinct ${d.page_numbers}, page_count ${d.page_count})`,
      );
    } else if (
      d.status === 'indexed' &&
      (d.chunks !== d.chunk_count ||
        d.chunks === 0 ||
        d.min_ordinal !== 0 ||
        d.max_ordinal !== d.chunks - 1 ||
        d.pages !== d.page_count)
    ) {
      inconsistent++;
      note(
        `inconsistent: indexed document ${d.id} chunks=${d.chunks}/${d.chunk_count} pages=${d.pages}/${d.page_count}`,
      );
    } else if (d.status !== 'indexed' && d.chunks > 0) {
      inconsistent++;
      note(`inconsistent: ${d.status} document ${d.id} has ${d.chunks} chunks`);
    }
  }

  // A job's status must follow from its documents: succeeded ⇔ all indexed, and so on.
  let failed = 0;
  for (const j of jobs) {
    if (!TERMINAL.includes(j.status)) continue;
    const expected =
      j.open > 0
        ? 'not terminal'
        : j.failed === 0
          ? 'succeeded'
          : j.indexed === 0
            ? 'failed'
            : 'completed_with_failures';
    if (j.status !== expected || j.finished_at === null) {
      inconsistent++;
      note(
        `inconsistent: job ${j.id} is ${j.status} with ${j.indexed} indexed, ${j.failed} failed, ${j.open} open`,
      );
    }
    if (j.other_failed > 0 || (!options.poisonExpected && j.poison_failed > 0)) {
      failed += j.other_failed;
      note(`failed: job ${j.id} has ${j.other_failed} documents failed that should have succeeded`);
    }
  }

  // The API must tell the same story as the database.
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const r = await stack.request<{ status: string }>('GET', `/v1/jobs/${id}`);
        if (r.status === 404) {
          if (byId.has(id)) lost++;
          note(`lost: GET /v1/jobs/${id} answered 404`);
        } else if (r.status !== 200 || r.body.status !== byId.get(id)?.status) {
          inconsistent++;
          note(
            `inconsistent: GET /v1/jobs/${id} answered ${r.status} ${r.body.status}, database says ${byId.get(id)?.status}`,
          );
        }
      }
    }),
  );

  // Exactly one terminal event per finished job reached QUARRY_EVENTS.
  const events = await terminalEvents(stack).catch((error: unknown) => {
    note(`inconsistent: could not read the terminal events: ${String(error)}`);
    return undefined;
  });
  if (!events) inconsistent++;
  for (const j of events ? jobs : []) {
    if (!TERMINAL.includes(j.status)) continue;
    const n = events?.get(j.id) ?? 0;
    if (n > 1) {
      duplicated++;
      note(`duplicated: ${n} terminal events for job ${j.id}`);
    } else if (n === 0) {
      inconsistent++;
      note(`inconsistent: no terminal event for ${j.status} job ${j.id}`);
    }
  }

  const settled = await settle(stack);
  const leftover = settled.queued + settled.unsent;
  if (leftover > 0) note(`leftover: ${settled.detail}`);

  return {
    lost,
    duplicated,
    stuck: stuckIds.size,
    failed,
    inconsistent,
    leftover,
    examples,
  };
}
