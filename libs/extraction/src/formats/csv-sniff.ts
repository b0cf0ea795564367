/** The field delimiters a CSV file is sniffed for, in the order that breaks a tie. */
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

export interface DelimiterGuess {
  delimiter: CsvDelimiter;
  /** Delimiters per record (the most common count). */
  fields: number;
  /** Records sampled, and the share of them with exactly `fields` delimiters. */
  records: number;
  consistency: number;
  /** The sample had a blank line between records, as prose paragraphs do and CSV files rarely do. */
  blankLines: boolean;
  /** Every delimiter was followed by a space, as a comma in a sentence is (`Hello, world`). */
  spaced: boolean;
}

export interface SniffCsvOptions {
  /** Records to sample; default 20. */
  maxRecords?: number;
  /** The text is a prefix of the file: its last record may be cut short, so it does not count. */
  truncated?: boolean;
}

/**
 * The most likely delimiter of delimited text, from the first records: the one whose count per record is the same
 * (and at least one) on the most records, ties going to more fields, then to the order of CSV_DELIMITERS. Quotes are
 * honoured, so a quoted delimiter or line break does not count. Null when no delimiter appears at all.
 */
export function sniffDelimiter(text: string, options: SniffCsvOptions = {}): DelimiterGuess | null {
  const sample = sampleRecords(text, options.maxRecords ?? 20, options.truncated === true);
  if (sample.records.length === 0) return null;
  let best: DelimiterGuess | null = null;
  for (const delimiter of CSV_DELIMITERS) {
    const counts = sample.records.map((r) => r.counts[delimiter]);
    const tally = new Map<number, number>();
    for (const count of counts) tally.set(count, (tally.get(count) ?? 0) + 1);
    let fields = 0;
    let agreeing = 0;
    for (const [count, records] of tally) {
      if (count > 0 && (records > agreeing || (records === agreeing && count > fields))) {
        fields = count;
        agreeing = records;
      }
    }
    if (fields === 0) continue;
    const guess: DelimiterGuess = {
      delimiter,
      fields,
      records: counts.length,
      consistency: agreeing / counts.length,
      blankLines: sample.blankLines,
      spaced: sample.records.every((r) => r.spaced[delimiter] === r.counts[delimiter]),
    };
    if (
      best === null ||
      guess.consistency > best.consistency ||
      (guess.consistency === best.consistency && guess.fields > best.fields)
    ) {
      best = guess;
    }
  }
  return best;
}

interface SampledRecord {
  counts: Record<CsvDelimiter, number>;
  spaced: Record<CsvDelimiter, number>;
}

function sampleRecords(
  text: string,
  maxRecords: number,
  truncated: boolean,
): { records: SampledRecord[]; blankLines: boolean } {
  const records: SampledRecord[] = [];
  let blankLines = false;
  let pendingBlank = false;
  let current = emptyRecord();
  let empty = true;
  let inQuotes = false;
  const end = (): void => {
    if (empty) {
      if (records.length > 0) pendingBlank = true;
    } else {
      if (pendingBlank) blankLines = true;
      pendingBlank = false;
      records.push(current);
    }
    current = emptyRecord();
    empty = true;
  };
  for (let i = 0; i < text.length && records.length < maxRecords; i++) {
    const char = text[i]!;
    if (char === '"') {
      inQuotes = !inQuotes;
      empty = false;
    } else if (!inQuotes && (char === '\n' || char === '\r')) {
      if (char === '\r' && text[i + 1] === '\n') i++;
      end();
    } else {
      if (!inQuotes && (CSV_DELIMITERS as readonly string[]).includes(char)) {
        const delimiter = char as CsvDelimiter;
        current.counts[delimiter]++;
        if (text[i + 1] === ' ') current.spaced[delimiter]++;
      }
      if (char.trim() !== '') empty = false;
    }
  }
  // The last record is whole only when the text is the whole file and does not stop mid-quote.
  if (!empty && !truncated && !inQuotes && records.length < maxRecords) end();
  return { records, blankLines };
}

function emptyRecord(): SampledRecord {
  return { counts: { ',': 0, ';': 0, '\t': 0, '|': 0 }, spaced: { ',': 0, ';': 0, '\t': 0, '|': 0 } };
}

/**
 * How strongly text reads as delimited data: `strong` when at least three records (or two with two or more
 * delimiters each) all have the same delimiter count, with no blank lines between them and not every delimiter
 * followed by a space; `weak` when the records agree but are few or read like prose (a file name may then
 * decide); `none` otherwise. Markdown pipe tables are left to Markdown.
 */
export function csvEvidence(text: string, options: SniffCsvOptions = {}): 'strong' | 'weak' | 'none' {
  const guess = sniffDelimiter(text, options);
  if (guess === null || guess.consistency < 1) return 'none';
  if (guess.delimiter === '|' && looksLikePipeTable(text)) return 'none';
  const prose = guess.blankLines || (guess.spaced && guess.delimiter !== '\t' && guess.fields === 1);
  const enough = guess.records >= 3 || (guess.records >= 2 && guess.fields >= 2);
  return enough && !prose ? 'strong' : 'weak';
}

function looksLikePipeTable(text: string): boolean {
  const lines = text.split(/\r?\n/, 3);
  return lines.length >= 2 && lines[0]!.trim().startsWith('|') && /^\s*\|?\s*:?-{3,}/.test(lines[1]!);
}
