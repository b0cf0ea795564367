const DAY_MS = 24 * 3600 * 1000;

/** Where the usage of a time range is read from: whole UTC days from the daily totals, the rest from the records. */
export interface UsageReadPlan {
  /** Whole days inside the range, as `YYYY-MM-DD`, `last` excluded; null when the range holds none. */
  days: { first: string; last: string } | null;
  /** Parts of the range outside those days (a partial first or last day), each [from, to). */
  edges: { from: Date; to: Date }[];
}

const utcDay = (at: Date): string => at.toISOString().slice(0, 10);
const floorDay = (at: Date): Date => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
const ceilDay = (at: Date): Date => new Date(Math.ceil(at.getTime() / DAY_MS) * DAY_MS);

/**
 * Splits [from, to) so that every whole UTC day is read as one daily row per metric and only the partial days at
 * its ends are summed from the records: a year costs about 365 rows per metric however busy the tenant was.
 */
export function usageReadPlan(from: Date, to: Date): UsageReadPlan {
  if (to.getTime() <= from.getTime()) return { days: null, edges: [] };
  const first = ceilDay(from);
  const last = floorDay(to);
  if (first.getTime() >= last.getTime()) return { days: null, edges: [{ from, to }] };
  const edges: UsageReadPlan['edges'] = [];
  if (from.getTime() < first.getTime()) edges.push({ from, to: first });
  if (last.getTime() < to.getTime()) edges.push({ from: last, to });
  return { days: { first: utcDay(first), last: utcDay(last) }, edges };
}

/** Every UTC day [from, to) touches, as `YYYY-MM-DD`, in order: the buckets of a per-day report. */
export function utcDaysOf(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (let at = floorDay(from).getTime(); at < to.getTime(); at += DAY_MS) days.push(utcDay(new Date(at)));
  return days;
}
