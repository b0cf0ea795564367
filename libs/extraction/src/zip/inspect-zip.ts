import { QuarryError, type ErrorCode } from '@quarry/contracts';
import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { SaxesParser } from 'saxes';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

/** The archive-based document formats: each is a ZIP container of XML parts (EPUB: XHTML). */
export type ZipDocumentType = 'docx' | 'pptx' | 'xlsx' | 'odt' | 'ods' | 'odp' | 'epub';

export interface ZipLimits {
  maxArchiveEntries: number;
  maxUncompressedBytes: number;
}

export interface ZipEntryInfo {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
}

export interface ZipInspection {
  entries: ZipEntryInfo[];
  /** What the entries inflated to, all of them read. */
  uncompressedBytes: number;
}

// An entry this much larger than its compressed bytes, and this large, is a decompression bomb, whatever the limit.
const ABSURD_RATIO = 1000;
const ABSURD_RATIO_MIN_BYTES = 100 * 1024 * 1024;
const GENERAL_PURPOSE_ENCRYPTED = 0x01;

/**
 * Vets an archive-based document before any library opens it. From the central directory: more entries than
 * allowed, more declared bytes than allowed or an absurd compression ratio → `archive_too_large`; an encrypted entry
 * → `encrypted`; not a readable ZIP → `corrupt_<type>`. Then every entry is inflated once (streamed, discarded)
 * with its declared size enforced, so an entry that inflates past what it declared is caught before a library that
 * trusts the directory holds it in memory. The XML parts of Office Open XML and OpenDocument files are checked for a
 * document type declaration on the way: both formats forbid DTDs, and an entity bomb (billion laughs) lives there.
 */
export async function inspectZip(
  path: string,
  type: ZipDocumentType,
  limits: ZipLimits,
): Promise<ZipInspection> {
  const corrupt = corruptCode(type);
  const zip = await openZip(path, corrupt);
  try {
    if (zip.entryCount > limits.maxArchiveEntries) throw tooManyEntries(zip.entryCount, limits);
    const entries = await readDirectory(zip, corrupt, limits);
    if (type === 'odt' || type === 'ods' || type === 'odp') await refuseEncryptedOdf(zip, entries, corrupt);
    let uncompressedBytes = 0;
    for (const entry of entries) {
      const xmlCheck = xmlCheckFor(type, entry.fileName);
      uncompressedBytes += await drainEntry(zip, entry, corrupt, xmlCheck);
      if (uncompressedBytes > limits.maxUncompressedBytes) throw tooManyBytes(uncompressedBytes, limits);
    }
    return {
      entries: entries.map((e) => ({
        name: e.fileName,
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
      })),
      uncompressedBytes,
    };
  } finally {
    zip.close();
  }
}

/** The archive opened for detection, or null when the bytes are not a readable ZIP. */
async function openZipOrNull(path: string): Promise<ZipFile | null> {
  try {
    return await openZip(path, 'unsupported_type');
  } catch (error) {
    if (QuarryError.is(error)) return null;
    throw error;
  }
}

/**
 * The entry names of a ZIP archive from its central directory (for type detection: a head cut short by data
 * descriptors or reordered entries does not show them), or null when the bytes are not a readable ZIP. At most
 * `maxEntries` names are read.
 */
export async function listZipEntries(path: string, maxEntries = 10_000): Promise<string[] | null> {
  const zip = await openZipOrNull(path);
  if (zip === null) return null;
  const names: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      names.push(entry.fileName);
      if (names.length >= maxEntries) break;
    }
    return names;
  } catch (error) {
    // A directory that breaks off part-way still named what it named before; one that names nothing is no ZIP.
    if (!(error instanceof Error)) throw error;
    return names.length > 0 ? names : null;
  } finally {
    zip.close();
  }
}

/**
 * The first `maxBytes` of one entry (located through the central directory), or null when the archive is not a
 * readable ZIP, has no such entry, or the entry is encrypted. For type detection: ODF and EPUB say what they are in
 * their `mimetype` entry.
 */
export async function readZipEntryHead(path: string, name: string, maxBytes: number): Promise<Buffer | null> {
  const zip = await openZipOrNull(path);
  if (zip === null) return null;
  try {
    let seen = 0;
    for await (const entry of zip.eachEntry()) {
      if (++seen > 100_000) return null;
      if (entry.fileName !== name) continue;
      if (entry.isEncrypted()) return null;
      const stream = await openEntry(zip, entry, 'unsupported_type');
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        length += (chunk as Buffer).length;
        if (length >= maxBytes) break;
      }
      stream.destroy();
      return Buffer.concat(chunks).subarray(0, maxBytes);
    }
    return null;
  } catch (error) {
    // Detection only: an archive that breaks while being read is judged by what its head showed.
    if (error instanceof Error) return null;
    throw error;
  } finally {
    zip.close();
  }
}

/**
 * Random access to a vetted archive's entries by name (after `inspectZip`, so sizes and counts are known good).
 */
export class ZipReader {
  private constructor(
    private readonly zip: ZipFile,
    private readonly entries: Map<string, Entry>,
    private readonly corrupt: ErrorCode,
  ) {}

  static async open(path: string, corrupt: ErrorCode, limits: ZipLimits): Promise<ZipReader> {
    const zip = await openZip(path, corrupt);
    try {
      if (zip.entryCount > limits.maxArchiveEntries) throw tooManyEntries(zip.entryCount, limits);
      const entries = await readDirectory(zip, corrupt, limits);
      return new ZipReader(zip, new Map(entries.map((e) => [e.fileName, e])), corrupt);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  size(name: string): number | undefined {
    return this.entries.get(name)?.uncompressedSize;
  }

  /** The entry's bytes, or null when there is no such entry. Past `maxBytes` (declared or inflated): an error. */
  async read(name: string, maxBytes: number): Promise<Buffer | null> {
    const entry = this.entries.get(name);
    if (entry === undefined) return null;
    if (entry.uncompressedSize > maxBytes) {
      throw new QuarryError('archive_too_large', `The archive entry ${name} is larger than allowed`, {
        details: { entry: name, declaredBytes: entry.uncompressedSize, maxBytes },
      });
    }
    const stream = await openEntry(this.zip, entry, this.corrupt);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (error) {
      throw entryError(error, name, this.corrupt);
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    this.zip.close();
  }
}

function corruptCode(type: ZipDocumentType): ErrorCode {
  return `corrupt_${type}`;
}

function openZip(path: string, corrupt: ErrorCode): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      path,
      { lazyEntries: true, validateEntrySizes: true, autoClose: false, strictFileNames: false },
      (error, zip) => {
        if (error !== null) {
          reject(
            new QuarryError(corrupt, `The file is not a readable ZIP archive: ${error.message}`, {
              cause: error,
            }),
          );
        } else {
          resolve(zip);
        }
      },
    );
  });
}

async function readDirectory(zip: ZipFile, corrupt: ErrorCode, limits: ZipLimits): Promise<Entry[]> {
  const entries: Entry[] = [];
  let declared = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      entries.push(entry);
      if (entries.length > limits.maxArchiveEntries) throw tooManyEntries(entries.length, limits);
      if ((entry.generalPurposeBitFlag & GENERAL_PURPOSE_ENCRYPTED) !== 0 || entry.isEncrypted()) {
        throw new QuarryError('encrypted', `The archive entry ${entry.fileName} is encrypted`, {
          details: { entry: entry.fileName },
        });
      }
      declared += entry.uncompressedSize;
      if (declared > limits.maxUncompressedBytes) throw tooManyBytes(declared, limits);
      if (
        entry.uncompressedSize > ABSURD_RATIO_MIN_BYTES &&
        entry.uncompressedSize > ABSURD_RATIO * Math.max(1, entry.compressedSize)
      ) {
        throw new QuarryError(
          'archive_too_large',
          `The archive entry ${entry.fileName} declares an absurd compression ratio (a decompression bomb)`,
          {
            details: {
              entry: entry.fileName,
              compressedSize: entry.compressedSize,
              uncompressedSize: entry.uncompressedSize,
            },
          },
        );
      }
    }
  } catch (error) {
    if (QuarryError.is(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // yauzl refuses strong encryption (bit 6) while reading the directory, before the entry reaches us.
    if (message.includes('encryption')) {
      throw new QuarryError('encrypted', 'The archive uses strong encryption', { cause: error });
    }
    throw new QuarryError(corrupt, `The ZIP archive's directory is unreadable: ${message}`, { cause: error });
  }
  return entries;
}

function openEntry(zip: ZipFile, entry: Entry, corrupt: ErrorCode): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error !== null) reject(entryError(error, entry.fileName, corrupt));
      else resolve(stream);
    });
  });
}

function entryError(error: unknown, name: string, corrupt: ErrorCode): QuarryError {
  if (QuarryError.is(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('too many bytes')) {
    return new QuarryError(
      'archive_too_large',
      `The archive entry ${name} inflates past the size it declares (a decompression bomb)`,
      { cause: error, details: { entry: name } },
    );
  }
  return new QuarryError(corrupt, `The archive entry ${name} is unreadable: ${message}`, {
    cause: error,
    details: { entry: name },
  });
}

// The manifest lists every part; even a large package's is well under this.
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * OpenDocument encrypts parts itself, inside the ZIP (a password-protected ODT's content.xml is ciphertext), and
 * says so in META-INF/manifest.xml with `manifest:encryption-data`: that is `encrypted`, not a corrupt part.
 */
async function refuseEncryptedOdf(
  zip: ZipFile,
  entries: readonly Entry[],
  corrupt: ErrorCode,
): Promise<void> {
  const manifest = entries.find((e) => e.fileName === 'META-INF/manifest.xml');
  if (manifest === undefined || manifest.uncompressedSize > MAX_MANIFEST_BYTES) return;
  const stream = await openEntry(zip, manifest, corrupt);
  const parser = new SaxesParser({ xmlns: false });
  let encrypted = false;
  parser.on('opentagstart', (tag) => {
    if (tag.name === 'encryption-data' || tag.name.endsWith(':encryption-data')) encrypted = true;
  });
  parser.on('error', (error) => {
    throw new QuarryError(corrupt, `The document's manifest is not well-formed XML: ${error.message}`, {
      cause: error,
    });
  });
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of stream) {
      parser.write(decoder.decode(chunk as Buffer, { stream: true }));
      if (encrypted) break;
    }
  } catch (error) {
    throw entryError(error, manifest.fileName, corrupt);
  }
  if (encrypted) {
    throw new QuarryError('encrypted', 'The OpenDocument file is password-protected', {
      details: { entry: manifest.fileName },
    });
  }
}

type XmlCheck = 'no_doctype' | 'no_entities' | null;

/** The OpenDocument parts that hold the document itself. */
const ODF_MAIN_PARTS = new Set(['content.xml', 'styles.xml', 'meta.xml', 'settings.xml']);

/**
 * Office Open XML (ECMA-376 Part 2) forbids DTDs outright, and OpenDocument's schema has none for its document
 * parts. OpenOffice.org 2 still wrote a DOCTYPE into META-INF/manifest.xml, and EPUB's XHTML and NCX files carry
 * one legitimately (EPUB 2 declares the XHTML 1.1 and NCX DTDs), so there only an internal subset that declares
 * entities is refused.
 */
function xmlCheckFor(type: ZipDocumentType, name: string): XmlCheck {
  const lower = name.toLowerCase();
  const xml = lower.endsWith('.xml') || lower.endsWith('.rels');
  switch (type) {
    case 'docx':
    case 'pptx':
    case 'xlsx':
      return xml ? 'no_doctype' : null;
    case 'odt':
    case 'ods':
    case 'odp': {
      const part = lower.split('/').pop() ?? '';
      if (ODF_MAIN_PARTS.has(part)) return 'no_doctype';
      return xml ? 'no_entities' : null;
    }
    case 'epub':
      return xml || lower.endsWith('.opf') || lower.endsWith('.ncx') || lower.endsWith('.xhtml')
        ? 'no_entities'
        : null;
  }
}

/** Inflates one entry to nowhere, checking its XML prologue on the way; returns the bytes it inflated to. */
async function drainEntry(zip: ZipFile, entry: Entry, corrupt: ErrorCode, check: XmlCheck): Promise<number> {
  const stream = await openEntry(zip, entry, corrupt);
  const prologue = check === null ? null : new PrologueCheck(entry.fileName, check, corrupt);
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      prologue?.write(buffer);
    }
  } catch (error) {
    throw entryError(error, entry.fileName, corrupt);
  }
  prologue?.end();
  return bytes;
}

/**
 * Feeds an XML part to saxes until its root element opens: a DOCTYPE can only come before it, so the rest of the
 * part is never parsed. A part that is not well-formed before its root is refused too, since a laxer parser in a
 * library might still find a DTD there.
 */
class PrologueCheck {
  private readonly parser = new SaxesParser({ xmlns: false });
  private decoder: TextDecoder | null = null;
  private done = false;
  private problem: string | null = null;
  private sawAnything = false;

  constructor(
    private readonly name: string,
    private readonly check: Exclude<XmlCheck, null>,
    private readonly corrupt: ErrorCode,
  ) {
    this.parser.on('doctype', (doctype) => {
      if (this.check === 'no_doctype') {
        this.fail('it declares a document type (DTD), which the format forbids and entity bombs rely on');
      } else if (doctype.includes('<!ENTITY')) {
        this.fail('its document type declares XML entities (an entity bomb)');
      }
    });
    this.parser.on('opentagstart', () => {
      this.done = true;
    });
    this.parser.on('error', (error) => {
      // EPUB readers (and linkedom) take sloppy XHTML, and saxes expands no entities: only a DTD matters there.
      if (this.check === 'no_doctype') this.fail(`it is not well-formed XML (${error.message})`);
      else this.done = true;
    });
  }

  write(chunk: Buffer): void {
    if (this.done) return;
    if (this.decoder === null) {
      this.sawAnything = chunk.length > 0;
      this.decoder = new TextDecoder(sniffXmlEncoding(chunk), { fatal: false });
    }
    this.parser.write(this.decoder.decode(chunk, { stream: true }));
    this.raise();
  }

  end(): void {
    if (this.done || !this.sawAnything) return;
    this.parser.close();
    this.raise();
  }

  private fail(reason: string): void {
    this.problem ??= reason;
    this.done = true;
  }

  private raise(): void {
    if (this.problem !== null) {
      throw new QuarryError(this.corrupt, `The document part ${this.name} is refused: ${this.problem}`, {
        details: { entry: this.name },
      });
    }
  }
}

function sniffXmlEncoding(head: Buffer): 'utf-8' | 'utf-16le' | 'utf-16be' {
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  // BOM-less UTF-16 starts `<\0?\0` or `\0<\0?`.
  if (head[0] === 0x3c && head[1] === 0x00) return 'utf-16le';
  if (head[0] === 0x00 && head[1] === 0x3c) return 'utf-16be';
  return 'utf-8';
}

function tooManyEntries(entries: number, limits: ZipLimits): QuarryError {
  return new QuarryError(
    'archive_too_large',
    `The archive holds ${entries} entries, more than the ${limits.maxArchiveEntries} allowed`,
    { details: { entries, maxArchiveEntries: limits.maxArchiveEntries } },
  );
}

function tooManyBytes(bytes: number, limits: ZipLimits): QuarryError {
  return new QuarryError(
    'archive_too_large',
    `The archive expands to more than the ${limits.maxUncompressedBytes} bytes allowed`,
    { details: { uncompressedBytes: bytes, maxUncompressedBytes: limits.maxUncompressedBytes } },
  );
}
