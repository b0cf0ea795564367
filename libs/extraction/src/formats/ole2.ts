import { QuarryError } from '@quarry/contracts';
import { open } from 'node:fs/promises';
import type { FormatParser } from './types';

export const OLE2_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] as const;
const HEADER_BYTES = 512;
const DIRECTORY_ENTRY_BYTES = 128;
const READ_CHUNK_BYTES = 64 * 1024;
// Past this many names the file's kind is known; a directory this large is itself suspect.
const MAX_NAMES = 10_000;

/** Stream names that say what a compound file holds. */
const KINDS: { test: (names: ReadonlySet<string>) => boolean; kind: string }[] = [
  { test: (n) => n.has('WordDocument'), kind: 'a Word document (.doc)' },
  { test: (n) => n.has('Workbook') || n.has('Book'), kind: 'an Excel workbook (.xls)' },
  { test: (n) => n.has('PowerPoint Document'), kind: 'a PowerPoint presentation (.ppt)' },
  {
    test: (n) => [...n].some((name) => name.startsWith('__substg1.0_') || name === '__properties_version1.0'),
    kind: 'an Outlook message (.msg)',
  },
  { test: (n) => n.has('VisioDocument'), kind: 'a Visio drawing (.vsd)' },
];

/**
 * An OLE2 compound file. Office writes a password-protected DOCX/XLSX/PPTX as one (ECMA-376 agile or standard
 * encryption: an `EncryptionInfo` and an `EncryptedPackage` stream), which is `encrypted`; anything else is a legacy
 * binary Office or Outlook file (.doc, .xls, .ppt, .msg), which Quarry does not read: `unsupported_type`.
 */
export const parseOle2: FormatParser = async (input) => {
  const names = await ole2StreamNames(input.path);
  if (names.has('EncryptedPackage') || names.has('EncryptionInfo')) {
    throw new QuarryError(
      'encrypted',
      'The document is a password-protected Office document (encrypted OOXML in an OLE2 container)',
      { details: { container: 'ole2' } },
    );
  }
  const kind = KINDS.find((k) => k.test(names))?.kind;
  throw new QuarryError(
    'unsupported_type',
    `The document is a legacy Microsoft Office / Outlook (OLE2) document${kind !== undefined ? `, ${kind}` : ''}; ` +
      'save it in a current format (DOCX, XLSX, PPTX, EML) to index it',
    { details: { detectedType: 'ole2', streams: [...names].slice(0, 50) } },
  );
};

/**
 * The names in an OLE2 compound file's directory. Directory entries are 128-byte records in sectors, so they sit
 * at 128-byte-aligned offsets past the 512-byte header; an offset holds one when its name-length field (bytes 64–65)
 * fits the UTF-16LE name before it, NUL-terminated, and its type byte (66) is a storage, stream or root. The whole
 * file is scanned rather than the sector chain followed: a damaged chain still yields its names, and a false match
 * inside stream data can only add a name.
 */
export async function ole2StreamNames(path: string): Promise<Set<string>> {
  const names = new Set<string>();
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    const header = await file.read(buffer, 0, HEADER_BYTES, 0);
    if (header.bytesRead < HEADER_BYTES || !OLE2_MAGIC.every((b, i) => buffer[i] === b)) return names;
    let position = HEADER_BYTES;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, READ_CHUNK_BYTES, position);
      if (bytesRead < DIRECTORY_ENTRY_BYTES) break;
      for (let at = 0; at + DIRECTORY_ENTRY_BYTES <= bytesRead; at += DIRECTORY_ENTRY_BYTES) {
        const name = directoryEntryName(buffer, at);
        if (name !== null) names.add(name);
        if (names.size >= MAX_NAMES) return names;
      }
      position += bytesRead - (bytesRead % DIRECTORY_ENTRY_BYTES);
    }
    return names;
  } finally {
    await file.close();
  }
}

function directoryEntryName(buffer: Buffer, at: number): string | null {
  const nameBytes = buffer.readUInt16LE(at + 64);
  const type = buffer[at + 66];
  if (nameBytes < 4 || nameBytes > 64 || nameBytes % 2 !== 0 || (type !== 1 && type !== 2 && type !== 5))
    return null;
  if (buffer.readUInt16LE(at + nameBytes - 2) !== 0) return null;
  let name = '';
  for (let i = 0; i < nameBytes - 2; i += 2) {
    const unit = buffer.readUInt16LE(at + i);
    // Names are printable (a few streams start with a control character such as \u0005SummaryInformation).
    if (unit === 0) return null;
    name += String.fromCharCode(unit);
  }
  return name;
}
