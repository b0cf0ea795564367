import { PromText } from './prometheus-text';

const TEXT = `# HELP quarry_jobs_created_total Jobs accepted.
# TYPE quarry_jobs_created_total counter
quarry_jobs_created_total{type="ingest",lane="interactive",app="gateway"} 3
quarry_jobs_created_total{type="ingest",lane="bulk",app="gateway"} 1

# TYPE quarry_step_duration_seconds histogram
quarry_step_duration_seconds_bucket{le="0.5",step="ingest",outcome="ack"} 2
quarry_step_duration_seconds_bucket{le="+Inf",step="ingest",outcome="ack"} 4
quarry_step_duration_seconds_sum{step="ingest",outcome="ack"} 7.25
quarry_step_duration_seconds_count{step="ingest",outcome="ack"} 4
# TYPE weird gauge
weird{path="a \\"quoted\\" \\\\ back,slash",line="two\\nlines"} -1.5e-3 1700000000000
quarry_nodejs_eventloop_lag_mean_seconds{app="gateway"} Nan
quarry_up 1
`;

describe('PromText', () => {
  const text = PromText.parse(TEXT);

  it('reads samples with their labels and values, and the family types', () => {
    expect(text.select('quarry_jobs_created_total', { lane: 'bulk' })).toEqual([
      {
        name: 'quarry_jobs_created_total',
        labels: { type: 'ingest', lane: 'bulk', app: 'gateway' },
        value: 1,
      },
    ]);
    expect(text.types.get('quarry_step_duration_seconds')).toBe('histogram');
    expect(text.select('quarry_up')).toEqual([{ name: 'quarry_up', labels: {}, value: 1 }]);
  });

  it('sums over the samples matching some labels, 0 when none match', () => {
    expect(text.sum('quarry_jobs_created_total')).toBe(4);
    expect(text.sum('quarry_jobs_created_total', { lane: 'interactive' })).toBe(3);
    expect(text.sum('quarry_jobs_created_total', { lane: 'express' })).toBe(0);
    expect(text.sum('quarry_step_duration_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(text.sum('quarry_step_duration_seconds_sum')).toBe(7.25);
  });

  it('unescapes label values (quotes, backslashes, newlines; commas inside quotes) and reads exponents', () => {
    expect(text.select('weird')).toEqual([
      { name: 'weird', labels: { path: 'a "quoted" \\ back,slash', line: 'two\nlines' }, value: -0.0015 },
    ]);
  });

  it('reads NaN and Inf in any case, as Prometheus does', () => {
    expect(text.select('quarry_nodejs_eventloop_lag_mean_seconds')[0]?.value).toBeNaN();
    expect(PromText.parse('x +inf\ny -Inf').samples.map((s) => s.value)).toEqual([Infinity, -Infinity]);
  });

  it('rejects a line that is not a sample, naming the line', () => {
    expect(() => PromText.parse('ok 1\nbroken{a="1" 2')).toThrow(/line 2/);
    expect(() => PromText.parse('no_value')).toThrow(/bad value/);
    expect(() => PromText.parse('x{1a="b"} 1')).toThrow(/bad label name/);
  });
});
