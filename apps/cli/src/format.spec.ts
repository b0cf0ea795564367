import type { Job } from '@quarry/sdk';
import { createColors } from 'picocolors';
import {
  documentPercent,
  formatAnswer,
  formatDocumentLine,
  formatJob,
  formatJobOutcome,
  formatSearchResults,
  formatTable,
  highlightText,
} from './format';
import { formatUsage } from './commands/usage';
import { batches } from './files';
import { searchFilter, splitList } from './commands/search';

const plain = createColors(false);
const color = createColors(true);

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j1',
  type: 'ingest',
  status: 'completed_with_failures',
  lane: 'interactive',
  progress: { step: 'indexing', done: 1, total: 2 },
  error: null,
  documents: [
    { id: 'd1', filename: 'a.txt', status: 'indexed', error: null },
    { id: 'd2', filename: 'b.pdf', status: 'failed', error: { code: 'corrupt_pdf', message: 'not a PDF' } },
  ],
  createdAt: '2026-12-05T10:00:00.000Z',
  ...over,
});

describe('cli formatting', () => {
  it('advances a document bar through its statuses', () => {
    expect(
      ['queued', 'extracting', 'extracted', 'indexing', 'indexed', 'failed'].map(documentPercent),
    ).toEqual([0, 25, 50, 75, 100, 100]);
  });

  it("prints a document's final line with its status and error code", () => {
    expect(formatDocumentLine(plain, job().documents[0]!)).toBe('indexed    a.txt');
    expect(formatDocumentLine(plain, job().documents[1]!)).toBe('failed     b.pdf  corrupt_pdf: not a PDF');
    expect(formatDocumentLine(color, job().documents[1]!)).toContain('\u001b[31m');
  });

  it('sums a job up', () => {
    expect(formatJobOutcome(plain, job())).toBe('job j1 completed_with_failures: 1 indexed, 1 failed');
    expect(formatJob(plain, job())).toEqual([
      'job j1  completed_with_failures  ingest  lane interactive',
      '  created   2026-12-05T10:00:00.000Z',
      '  progress  indexing 1/2',
      '  indexed    a.txt',
      '  failed     b.pdf  corrupt_pdf: not a PDF',
    ]);
  });

  it('pads columns by their visible width, colors included', () => {
    expect(
      formatTable(
        plain,
        [
          ['a', 'bb', 'c'],
          ['ddd', 'e', 'f'],
        ],
        ['X', 'Y', 'Z'],
      ),
    ).toEqual(['X    Y   Z', 'a    bb  c', 'ddd  e   f']);
    expect(
      formatTable(color, [
        [color.red('ab'), 'x'],
        ['abcd', 'y'],
      ])[0],
    ).toBe(`${color.red('ab')}    x`);
  });

  it('bolds highlight spans when colors are on, and windows long text around the first one', () => {
    const text = 'The lighthouse keeper logs\n every ship.';
    expect(highlightText(plain, text, [{ start: 4, end: 14 }])).toBe(
      'The lighthouse keeper logs every ship.',
    );
    expect(highlightText(color, text, [{ start: 4, end: 14 }])).toBe(
      `The ${color.bold('lighthouse')} keeper logs every ship.`,
    );
    const long = `${'x'.repeat(500)} reef ${'y'.repeat(500)}`;
    const shown = highlightText(color, long, [{ start: 501, end: 505 }], 100);
    expect(shown).toContain(color.bold('reef'));
    expect(shown.startsWith('…') && shown.endsWith('…')).toBe(true);
  });

  it('lists search hits', () => {
    const lines = formatSearchResults(plain, {
      results: [
        { documentId: 'd', filename: 'a.txt', page: 1, text: 'reef ahead', score: 0.5, highlights: [] },
      ],
      nextCursor: 'c2',
    });
    expect(lines).toEqual(['1. a.txt p.1  score 0.500', '   reef ahead', 'more: --cursor c2']);
    expect(formatSearchResults(plain, { results: [] })).toEqual(['no results']);
  });

  it('prints an answer with its citations, or says there is none', () => {
    expect(
      formatAnswer(plain, {
        answer: 'At new moon.',
        method: 'extractive',
        citations: [{ documentId: 'd', filename: 'tides.txt', page: 1, quote: 'Spring tides rise highest' }],
      }),
    ).toEqual([
      'At new moon.',
      '',
      'Sources (extractive):',
      '  [1] tides.txt p.1: "Spring tides rise highest"',
    ]);
    expect(formatAnswer(plain, { answer: null, citations: [] })).toEqual([
      'The documents do not answer this question.',
    ]);
  });

  it('prints usage totals, days and quotas', () => {
    const lines = formatUsage(plain, {
      from: 'F',
      to: 'T',
      groupBy: 'day',
      totals: { documents: 2, pagesParsed: 3 },
      days: [{ day: '2026-12-01', documents: 2, pagesParsed: 3 }],
      quotas: {
        periodStart: 'P',
        pagesPerMonth: { limit: null, used: 3 },
        embeddingTokensPerMonth: { limit: 10, used: 4 },
      },
    });
    expect(lines).toEqual([
      'usage F → T',
      '  documents    2',
      '  pagesParsed  3',
      '',
      'DAY         documents  pagesParsed',
      '2026-12-01  2          3',
      '',
      'quotas this month',
      '  pagesPerMonth: 3 of unlimited',
      '  embeddingTokensPerMonth: 4 of 10',
    ]);
  });

  it('splits files into jobs of the gateway’s size, and parses list and filter options', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(splitList(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(searchFilter('{"filename":"*.pdf","tags":["x"]}', 'y')).toEqual({
      filename: '*.pdf',
      tags: ['x', 'y'],
    });
    expect(searchFilter(undefined, undefined)).toBeUndefined();
    expect(() => searchFilter('[1]', undefined)).toThrow('must be a JSON object');
    expect(() => searchFilter('{', undefined)).toThrow('not valid JSON');
  });
});
