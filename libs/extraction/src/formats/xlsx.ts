import { QuarryError } from '@quarry/contracts';
import ExcelJS from 'exceljs';
import { inspectZip } from '../zip/inspect-zip';
import { asPage, checkPageCount, pageFromBlocks } from './pages';
import type { FormatParser } from './types';

interface SheetRows {
  /** The worksheet's position in the archive, its fallback order. */
  order: number;
  name: string;
  rows: string[][];
}

/** What exceljs's streaming reader sets on a worksheet once the workbook part has named it (not in its types). */
interface NamedWorksheetReader {
  name?: string;
  id?: number | string;
}

/**
 * Excel (XLSX), read with exceljs's streaming reader so a large sheet is never held as cell objects: one page per
 * sheet in tab order, labelled with the sheet name. The first non-empty row is the header and every further row
 * is rendered with its cells keyed by the header (see renderTable). A formula cell reads as its cached result, a
 * date as an ISO date, rich text and hyperlinks as their text, an error as its text (`#N/A`).
 */
export const parseXlsx: FormatParser = async (input, sink) => {
  await inspectZip(input.path, 'xlsx', input.limits);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input.path, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    // Styles carry the number formats that tell a date from a number.
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  const sheets: SheetRows[] = [];
  try {
    for await (const worksheet of reader) {
      checkPageCount(sheets.length + 1, input.limits, 'sheets');
      const named = worksheet as unknown as NamedWorksheetReader;
      const rows: string[][] = [];
      for await (const row of worksheet) {
        const cells = rowCells(row, date1904(reader));
        if (cells.some((c) => c !== '')) rows.push(cells);
      }
      sheets.push({ order: sheets.length, name: named.name ?? `Sheet ${sheets.length + 1}`, rows });
    }
  } catch (error) {
    if (QuarryError.is(error)) throw error;
    throw new QuarryError('corrupt_xlsx', `The XLSX workbook could not be read: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  const tabOrder = sheetTabOrder(reader);
  sheets.sort((a, b) => (tabOrder.get(a.name) ?? 1e9 + a.order) - (tabOrder.get(b.name) ?? 1e9 + b.order));
  sheets.forEach((sheet, i) => {
    const blocks = sheet.rows.length > 0 ? [{ kind: 'table' as const, rows: sheet.rows, header: true }] : [];
    sink.page(asPage(pageFromBlocks(i + 1, blocks, { label: sheet.name })));
  });
  return {};
};

/** The workbook model exceljs's reader keeps (not in its types): sheet names in tab order, the 1904 date system. */
interface WorkbookModel {
  model?: { sheets?: { name?: string }[] };
  properties?: { date1904?: boolean };
}

function sheetTabOrder(reader: ExcelJS.stream.xlsx.WorkbookReader): Map<string, number> {
  const sheets = (reader as unknown as WorkbookModel).model?.sheets ?? [];
  return new Map(sheets.flatMap((s, i) => (s.name !== undefined ? [[s.name, i] as const] : [])));
}

function date1904(reader: ExcelJS.stream.xlsx.WorkbookReader): boolean {
  return (reader as unknown as WorkbookModel).properties?.date1904 === true;
}

function rowCells(row: ExcelJS.Row, in1904: boolean): string[] {
  const cells: string[] = [];
  row.eachCell({ includeEmpty: true }, (cell, col) => {
    while (cells.length < col - 1) cells.push('');
    cells[col - 1] = cellText(cell.value, cell.numFmt, in1904);
  });
  return cells;
}

/** A cell value as the text Excel would show for it, near enough for search. */
export function cellText(
  value: ExcelJS.CellValue | undefined,
  numFmt: string | undefined,
  in1904: boolean,
): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number')
    return isDateFormat(numFmt) ? isoDate(excelSerialToDate(value, in1904)) : numberText(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return isoDate(value);
  if ('error' in value) return String(value.error);
  if ('richText' in value) return value.richText.map((run) => run.text).join('');
  if ('formula' in value || 'sharedFormula' in value) {
    const result: unknown = (value as { result?: unknown }).result;
    if (typeof result === 'string' || typeof result === 'number' || typeof result === 'boolean') {
      return cellText(result, numFmt, in1904);
    }
    if (result instanceof Date) return isoDate(result);
    if (typeof result === 'object' && result !== null && 'error' in result) return String(result.error);
    return '';
  }
  if ('hyperlink' in value)
    return typeof value.text === 'string' ? value.text : cellText(value.text, numFmt, in1904);
  return '';
}

// Excel shows at most 15 significant digits; binary floating point noise (0.30000000000000004) goes with them.
function numberText(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(15))) : String(value);
}

/** A number format that shows a date or a time: day, month, year, hour or second codes outside quotes and brackets. */
function isDateFormat(format: string | undefined): boolean {
  if (format === undefined || format === '' || format === 'General') return false;
  const bare = format
    .replace(/\[[^\]]*\]/g, '')
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '');
  return /[ymdhs]/i.test(bare);
}

function excelSerialToDate(serial: number, in1904: boolean): Date {
  // Day 25569 is 1970-01-01 in the 1900 system; the 1904 system counts from 1904-01-01, 1462 days later.
  const days = serial - 25569 + (in1904 ? 1462 : 0);
  return new Date(Math.round(days * 86_400_000));
}

/** An ISO date, with the time only when there is one (Excel's dates have no time zone, so neither has this). */
function isoDate(date: Date): string {
  if (Number.isNaN(date.getTime())) return '';
  const iso = date.toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  const time = iso.slice(11, 19);
  // A time of day alone is stored as a fraction of day 0 (1899-12-30).
  if (iso.startsWith('1899-12-30')) return time;
  return `${iso.slice(0, 10)}T${time}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
