import { QuarryApiError, TERMINAL_JOB_STATUSES, type Job } from '@quarry/sdk';
import type { ComponentChildren } from 'preact';
import { href, onLinkClick } from './router';

export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={href(props.to)} class={props.class} onClick={(e) => onLinkClick(e, props.to)}>
      {props.children}
    </a>
  );
}

/** What a failed call says to a person: the API's code and message. */
export function errorText(error: unknown): string {
  if (error instanceof QuarryApiError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorNote(props: { error: unknown }) {
  if (props.error === null || props.error === undefined) return null;
  return (
    <p class="error" role="alert">
      {errorText(props.error)}
    </p>
  );
}

export function isTerminal(status: string): boolean {
  return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);
}

/** A job's progress in percent: finished documents of all of them (an ingest), or done of total (others). */
export function percentOf(job: Job): number {
  if (isTerminal(job.status)) return 100;
  const p = job.progress;
  const processed = typeof p['processedFiles'] === 'number' ? p['processedFiles'] : undefined;
  const files = typeof p['totalFiles'] === 'number' ? p['totalFiles'] : undefined;
  if (processed !== undefined && files) return Math.min(99, Math.round((processed / files) * 100));
  const done = typeof p['done'] === 'number' ? p['done'] : undefined;
  const total = typeof p['total'] === 'number' ? p['total'] : undefined;
  if (done !== undefined && total) return Math.min(99, Math.round((done / total) * 100));
  return 0;
}

export function ProgressBar(props: { job: Job; label: string }) {
  const value = percentOf(props.job);
  return (
    <div
      class={`progress progress-${props.job.status}`}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value}
      aria-valuetext={`${value}% — ${props.job.status.replaceAll('_', ' ')}`}
    >
      <div class="progress-fill" style={{ width: `${value}%` }} />
    </div>
  );
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge badge-${props.status}`}>{props.status.replaceAll('_', ' ')}</span>;
}

export function formatTime(iso: unknown): string {
  if (typeof iso !== 'string') return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString();
}

export function formatDuration(fromIso: unknown, toIso: unknown): string {
  if (typeof fromIso !== 'string' || typeof toIso !== 'string') return '—';
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '—';
  return formatMs(ms);
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function shortId(id: string): string {
  return id.slice(-8);
}
