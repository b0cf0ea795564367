import { usageReadPlan, utcDaysOf } from './usage-ranges';

const at = (iso: string) => new Date(iso);

describe('usageReadPlan', () => {
  it('reads whole days from the daily totals and only the partial ends from the records', () => {
    expect(usageReadPlan(at('2026-12-01T10:00:00Z'), at('2026-12-04T06:30:00Z'))).toEqual({
      days: { first: '2026-12-02', last: '2026-12-04' },
      edges: [
        { from: at('2026-12-01T10:00:00Z'), to: at('2026-12-02T00:00:00Z') },
        { from: at('2026-12-04T00:00:00Z'), to: at('2026-12-04T06:30:00Z') },
      ],
    });
  });

  it('needs no records for a range of whole days', () => {
    expect(usageReadPlan(at('2026-12-01T00:00:00Z'), at('2027-01-01T00:00:00Z'))).toEqual({
      days: { first: '2026-12-01', last: '2027-01-01' },
      edges: [],
    });
  });

  it('reads a range inside one day, or across one midnight without a whole day, from the records alone', () => {
    const inside = { from: at('2026-12-01T01:00:00Z'), to: at('2026-12-01T02:00:00Z') };
    expect(usageReadPlan(inside.from, inside.to)).toEqual({ days: null, edges: [inside] });
    const across = { from: at('2026-12-01T20:00:00Z'), to: at('2026-12-02T04:00:00Z') };
    expect(usageReadPlan(across.from, across.to)).toEqual({ days: null, edges: [across] });
  });

  it('reads nothing for an empty range', () => {
    expect(usageReadPlan(at('2026-12-01T00:00:00Z'), at('2026-12-01T00:00:00Z'))).toEqual({
      days: null,
      edges: [],
    });
  });
});

describe('utcDaysOf', () => {
  it('lists every UTC day the range touches, the last one only if some of it is inside', () => {
    expect(utcDaysOf(at('2026-12-30T12:00:00Z'), at('2027-01-02T00:00:00Z'))).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
    ]);
    expect(utcDaysOf(at('2026-12-30T12:00:00Z'), at('2027-01-02T00:00:00.001Z'))).toHaveLength(4);
    expect(utcDaysOf(at('2026-12-30T00:00:00Z'), at('2026-12-30T00:00:00Z'))).toEqual([]);
  });

  it("counts a leap year's February 29th", () => {
    expect(utcDaysOf(at('2028-02-28T00:00:00Z'), at('2028-03-01T00:00:00Z'))).toEqual([
      '2028-02-28',
      '2028-02-29',
    ]);
  });
});
