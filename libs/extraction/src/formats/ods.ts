import { inspectZip } from '../zip/inspect-zip';
import { parseOfficeAst, tableRows } from './office-ast';
import { asPage, checkPageCount, pageFromBlocks } from './pages';
import type { FormatParser } from './types';

/**
 * OpenDocument spreadsheet (ODS): one page per sheet, labelled with the sheet name; the first non-empty row is the
 * header and every further row is rendered with its cells keyed by the header (see renderTable), as for XLSX.
 */
export const parseOds: FormatParser = async (input, sink) => {
  await inspectZip(input.path, 'ods', input.limits);
  const ast = await parseOfficeAst(input, 'ods');
  const sheets = ast.content.filter((node) => node.type === 'sheet');
  checkPageCount(sheets.length, input.limits, 'sheets');
  sheets.forEach((sheet, i) => {
    const name = (sheet.type === 'sheet' ? sheet.metadata?.sheetName : undefined) ?? `Sheet ${i + 1}`;
    const rows = tableRows(sheet);
    const blocks = rows.length > 0 ? [{ kind: 'table' as const, rows, header: true }] : [];
    sink.page(asPage(pageFromBlocks(i + 1, blocks, { label: name })));
  });
  const title = ast.metadata.title?.trim();
  return title !== undefined && title !== '' ? { title } : {};
};
