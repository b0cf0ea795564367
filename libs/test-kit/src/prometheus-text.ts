/** One sample of a Prometheus text exposition: `name{label="value",…} value`. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A parsed `/metrics` answer (text format 0.0.4), for tests that assert on series instead of on
 * lines of text: every sample with its labels unescaped, and each metric family's declared type.
 */
export class PromText {
  private constructor(
    readonly samples: readonly PromSample[],
    /** Family name → `counter`, `gauge`, `histogram`, `summary` or `untyped`. */
    readonly types: ReadonlyMap<string, string>,
  ) {}

  static parse(text: string): PromText {
    const samples: PromSample[] = [];
    const types = new Map<string, string>();
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line === '') return;
      if (line.startsWith('#')) {
        const m = /^#\s+TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\w+)$/.exec(line);
        if (m) types.set(m[1] as string, m[2] as string);
        return;
      }
      try {
        samples.push(parseSample(line));
      } catch (error) {
        throw new Error(
          `line ${index + 1} is not a Prometheus sample (${(error as Error).message}): ${line}`,
        );
      }
    });
    return new PromText(samples, types);
  }

  /** Samples called `name` whose labels include every label of `match`. */
  select(name: string, match: Record<string, string> = {}): PromSample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** The sum over `select(name, match)`; 0 when there is none (a counter not yet incremented). */
  sum(name: string, match: Record<string, string> = {}): number {
    return this.select(name, match).reduce((total, s) => total + s.value, 0);
  }

  has(name: string, match: Record<string, string> = {}): boolean {
    return this.select(name, match).length > 0;
  }
}

function parseSample(line: string): PromSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error('no metric name');
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
      if (!key) throw new Error(`bad label name at column ${i + 1}`);
      i += key.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`no ="value" after label ${key}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated value of label ${key}`);
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i++];
          value += next === 'n' ? '\n' : (next ?? '');
        } else {
          value += c;
        }
      }
      labels[key] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  return { name, labels, value };
}

/** Go's ParseFloat, which Prometheus uses, takes Inf and NaN in any case (prom-client writes `Nan`). */
function parseValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`bad value "${text}"`);
  return n;
}
