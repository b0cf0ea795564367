import { QuarryError } from '@quarry/contracts';
import { parse, type Options } from 'csv-parse/sync';
import { readFile } from 'node:fs/promises';
import { decodeText } from '../decode-text';
import { asPage, pageFromBlocks } from './pages';
import { sniffDelimiter, type CsvDelimiter } from './csv-sniff';
import type { FormatParser } from './types';

/**
 * CSV (and TSV, semicolon- or pipe-separated data): decoded with the charset detection text documents get, the
 * delimiter sniffed from the first records, one page. The first non-empty row is the header and every further row
 * is rendered with its cells keyed by the header (see renderTable). Real-world files are read rather than refused:
 * stray quotes and ragged rows are tolerated, and a file whose quoting cannot be made sense of at all is read again
 * with quotes taken literally.
 */
export const parseCsv: FormatParser = async (input, sink) => {
  const { text } = decodeText(new Uint8Array(await readFile(input.path)));
  const delimiter = sniffDelimiter(text)?.delimiter ?? fallbackDelimiter(input.filenameHint);
  const rows = parseRows(text, delimiter);
  const blocks = rows.length > 0 ? [{ kind: 'table' as const, rows, header: true }] : [];
  sink.page(asPage(pageFromBlocks(1, blocks)));
  return {};
};

function fallbackDelimiter(filenameHint: string | undefined): CsvDelimiter {
  return filenameHint !== undefined && /\.tsv$/i.test(filenameHint) ? '\t' : ',';
}

function parseRows(text: string, delimiter: CsvDelimiter): string[][] {
  const parsed: { record: string[]; line: number }[] = [];
  const options: Options = {
    delimiter,
    bom: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    // Records are kept as they come, so what precedes a fatal quoting error is not lost with it.
    on_record: (record: string[], context) => {
      parsed.push({ record, line: context.lines });
      return record;
    },
  };
  let records: string[][];
  try {
    parse(text, options);
    records = parsed.map((p) => p.record);
  } catch (quoted) {
    // An unterminated quote would swallow the rest of the file: from the record it opens in, quotes are plain text.
    const goodRecords = parsed.map((p) => p.record);
    const rest = text
      .split('\n')
      .slice(parsed.at(-1)?.line ?? 0)
      .join('\n');
    const literal: Options = { ...options, on_record: undefined, quote: false };
    try {
      records = [...goodRecords, ...parse(rest, literal)];
    } catch (literal) {
      throw new QuarryError('corrupt_csv', `The CSV file could not be parsed: ${message(quoted)}`, {
        cause: literal,
        details: { delimiter },
      });
    }
  }
  return records.filter((row) => row.some((cell) => cell.trim() !== ''));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
