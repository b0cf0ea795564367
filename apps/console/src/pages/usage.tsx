import type { QuarryClient } from '@quarry/sdk';
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorNote, formatTime } from '../ui';

interface Totals {
  documents: number;
  pagesParsed: number;
  pagesOcr: number;
  chunksEmbedded: number;
  embeddingTokens: number;
  llmTokens: number;
  storageBytes: number;
}

interface UsageReport {
  from: string;
  to: string;
  totals: Totals;
  days?: (Totals & { day: string })[];
  quotas: {
    periodStart: string;
    periodEnd: string;
    pagesPerMonth: { limit: number | null; used: number };
    embeddingTokensPerMonth: { limit: number | null; used: number };
  };
}

const METRICS: { key: keyof Totals; label: string }[] = [
  { key: 'documents', label: 'Documents' },
  { key: 'pagesParsed', label: 'Pages parsed' },
  { key: 'pagesOcr', label: 'Pages read by OCR' },
  { key: 'chunksEmbedded', label: 'Chunks embedded' },
  { key: 'embeddingTokens', label: 'Embedding tokens' },
  { key: 'llmTokens', label: 'Language model tokens' },
];

const number = new Intl.NumberFormat();

/** The tenant's metered usage this month, a chart of one measure by day, and where it stands against its quotas. */
export function UsagePage(props: { client: QuarryClient }) {
  const [report, setReport] = useState<UsageReport | null>(null);
  const [metric, setMetric] = useState<keyof Totals>('pagesParsed');
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    props.client
      .request<UsageReport>('GET', '/v1/usage', { query: { groupBy: 'day' } })
      .then(setReport)
      .catch(setError);
  }, [props.client]);

  if (error) {
    return (
      <>
        <h1>Usage</h1>
        <ErrorNote error={error} />
      </>
    );
  }
  if (!report) return <p role="status">Loading usage…</p>;
  const label = METRICS.find((m) => m.key === metric)?.label ?? metric;
  const days = report.days ?? [];

  return (
    <>
      <h1>Usage</h1>
      <p class="muted">
        {formatTime(report.from)} to {formatTime(report.to)}
      </p>
      <section class="card" aria-labelledby="quota-title">
        <h2 id="quota-title">Monthly quotas</h2>
        <Quota label="Pages" standing={report.quotas.pagesPerMonth} />
        <Quota label="Embedding tokens" standing={report.quotas.embeddingTokensPerMonth} />
      </section>
      <section class="card" aria-labelledby="usage-chart-title">
        <div class="section-head">
          <h2 id="usage-chart-title">{label} by day</h2>
          <div class="field">
            <label for="usage-metric">Measure</label>
            <select
              id="usage-metric"
              value={metric}
              onChange={(e) => setMetric(e.currentTarget.value as keyof Totals)}
            >
              {METRICS.map((m) => (
                <option value={m.key} key={m.key}>
                  {m.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <BarChart days={days} metric={metric} label={label} />
        <details>
          <summary>{label} by day as a table</summary>
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">{label}</th>
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr key={d.day}>
                    <td>{d.day}</td>
                    <td>{number.format(d[metric])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </section>
      <section class="card" aria-labelledby="usage-totals">
        <h2 id="usage-totals">Totals</h2>
        <dl class="facts">
          {METRICS.map((m) => (
            <Fragment key={m.key}>
              <dt>{m.label}</dt>
              <dd>{number.format(report.totals[m.key])}</dd>
            </Fragment>
          ))}
          <dt>Stored</dt>
          <dd>{(report.totals.storageBytes / (1024 * 1024)).toFixed(1)} MiB</dd>
        </dl>
      </section>
    </>
  );
}

function Quota(props: { label: string; standing: { limit: number | null; used: number } }) {
  const { limit, used } = props.standing;
  if (limit === null) {
    return (
      <p>
        {props.label}: {number.format(used)} used, no limit
      </p>
    );
  }
  const percent = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : 100;
  return (
    <div class="quota">
      <p>
        {props.label}: {number.format(used)} of {number.format(limit)} ({percent}%)
      </p>
      <div
        class={`progress ${percent >= 90 ? 'progress-failed' : ''}`}
        role="meter"
        aria-label={`${props.label} quota used`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div class="progress-fill" style={{ width: `${percent}%` }} />
      </div>
    </div>
  );
}

/** An SVG bar chart (no library, no inline styles): one bar a day, the largest value on the axis. */
function BarChart(props: { days: (Totals & { day: string })[]; metric: keyof Totals; label: string }) {
  const { days, metric } = props;
  const width = 400;
  const height = 160;
  const top = 20;
  const bottom = 24;
  const left = 8;
  const max = Math.max(1, ...days.map((d) => d[metric]));
  const slot = days.length > 0 ? (width - left) / days.length : width;
  const total = days.reduce((sum, d) => sum + d[metric], 0);
  if (days.length === 0) return <p>No usage in this period.</p>;
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="usage-chart-svg-title">
      <title id="usage-chart-svg-title">
        {props.label} by day: {number.format(total)} in all over {days.length} days, at most{' '}
        {number.format(max)} in a day
      </title>
      <text x={left} y={14} class="chart-axis">
        max {number.format(max)}
      </text>
      <line x1={left} x2={width} y1={height - bottom} y2={height - bottom} class="chart-base" />
      {days.map((d, i) => {
        const h = ((height - top - bottom) * d[metric]) / max;
        return (
          <g key={d.day}>
            <rect
              x={left + i * slot + slot * 0.15}
              y={height - bottom - h}
              width={slot * 0.7}
              height={h}
              class="chart-bar"
            >
              <title>
                {d.day}: {number.format(d[metric])}
              </title>
            </rect>
            {(days.length <= 10 || i % Math.ceil(days.length / 10) === 0) && (
              <text x={left + i * slot + slot / 2} y={height - 6} text-anchor="middle" class="chart-axis">
                {d.day.slice(8)}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
