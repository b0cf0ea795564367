import { QuarryError } from '@quarry/contracts';
import {
  MailParser,
  type AddressObject,
  type AttachmentStream,
  type HeaderLines,
  type MessageText,
} from 'mailparser';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Block } from '../structure/blocks';
import { parseHtmlDocument } from '../structure/dom';
import { htmlToBlocks } from '../structure/html-blocks';
import type { ExtractedAttachment } from './types';
import { asPage, pageFromBlocks } from './pages';
import type { FormatParser } from './types';

export const MESSAGE_LABEL = 'message';
const MAX_FILENAME_CHARS = 120;

interface WrittenAttachment extends ExtractedAttachment {
  cid: string | null;
}

/**
 * An e-mail (RFC 5322 / MIME) read with mailparser's streaming parser. Page 1 is a header block (From, To, Cc,
 * Date, Subject) and the body: the plain-text part, or the HTML part read as HTML when there is no plain text.
 * Every attachment is written to the work folder under a safe unique name and reported to the sink, except the
 * inline images the HTML body shows (`cid:` references). An attached e-mail (message/rfc822) is one attachment of
 * its raw bytes, never merged into this message: each level of nesting becomes a document of its own, which is
 * how nesting depth is limited. More attachments than `maxArchiveEntries`: `archive_too_large`.
 */
export const parseEml: FormatParser = async (input, sink) => {
  const parser = new MailParser({
    // mailparser would otherwise parse an attached message into this one: its text appended to the body, its
    // attachments hoisted to ours (for a part marked inline, which is what nodemailer writes by default).
    ignoreEmbedded: true,
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
    checksumAlgo: false,
  });
  const written: WrittenAttachment[] = [];
  let notInline = 0;
  let body: MessageText | null = null;
  const source = createReadStream(input.path);
  const feed: { error: Error | null } = { error: null };
  // Settles in any case, so it can be awaited on every path; a failure is rethrown once the output is read.
  const feeding = pipeline(source, parser).catch((error: unknown) => {
    feed.error = error instanceof Error ? error : new Error('Reading the e-mail failed', { cause: error });
  });
  try {
    for await (const data of parser as AsyncIterable<AttachmentStream | MessageText>) {
      if (data.type === 'text') {
        body = data;
        continue;
      }
      // Which inline images the body shows is only known once the body has been read, so they are written and
      // counted apart until then (within reason: a message of nothing but inline images is still bounded).
      const inline = isInlineImage(data);
      if (!inline) notInline++;
      if (
        notInline > input.limits.maxArchiveEntries ||
        written.length >= 4 * input.limits.maxArchiveEntries
      ) {
        data.release?.();
        throw tooManyAttachments(written.length + 1, input.limits.maxArchiveEntries);
      }
      written.push(await writeAttachment(data, input.workDir, written.length + 1));
    }
    await feeding;
    if (feed.error !== null) throw feed.error;
  } catch (error) {
    source.destroy();
    parser.destroy();
    await feeding;
    await removeAll(written);
    if (QuarryError.is(error)) throw error;
    throw new QuarryError('corrupt_eml', `The e-mail could not be parsed: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  const shown = body?.html !== undefined && body.html !== '' ? referencedCids(body.html) : new Set<string>();
  const reported = written.filter((a) => a.cid === null || !shown.has(a.cid));
  await removeAll(written.filter((a) => !reported.includes(a)));
  if (reported.length > input.limits.maxArchiveEntries) {
    await removeAll(reported);
    throw tooManyAttachments(reported.length, input.limits.maxArchiveEntries);
  }

  const subject = typeof parser.subject === 'string' ? parser.subject.replace(/\s+/g, ' ').trim() : '';
  const blocks: Block[] = [];
  const header = headerBlock(parser, subject);
  if (header !== '') blocks.push({ kind: 'paragraph', text: header });
  blocks.push(...bodyBlocks(body));
  sink.page(asPage(pageFromBlocks(1, blocks, { label: MESSAGE_LABEL })));
  for (const { cid: _cid, ...attachment } of reported) sink.attachment(attachment);
  return subject !== '' ? { title: subject } : {};
};

function isInlineImage(attachment: AttachmentStream): boolean {
  return attachment.cid !== undefined && attachment.contentType.startsWith('image/');
}

async function writeAttachment(
  data: AttachmentStream,
  workDir: string,
  index: number,
): Promise<WrittenAttachment> {
  const filename = attachmentName(data, index);
  const path = join(workDir, `${String(index).padStart(3, '0')}-${safeFileName(filename)}`);
  let sizeBytes = 0;
  data.content.on('data', (chunk: Buffer) => {
    sizeBytes += chunk.length;
  });
  try {
    // `wx`: a name already taken in the work folder is a bug, never something to overwrite.
    await pipeline(data.content, createWriteStream(path, { flags: 'wx' }));
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  } finally {
    data.release?.();
  }
  return {
    filename,
    contentType: data.contentType === '' ? null : data.contentType,
    path,
    sizeBytes,
    cid: data.cid !== undefined ? data.cid.toLowerCase() : null,
  };
}

/** The name the attachment gave itself (path parts and control characters removed), else one made up. */
function attachmentName(data: AttachmentStream, index: number): string {
  const given = (data.filename ?? '').split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is being removed
  let name = given.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (data.contentType === 'message/rfc822') {
    if (name === '') name = `message-${index}.eml`;
    else if (extname(name).toLowerCase() !== '.eml') name = `${name}.eml`;
  }
  return name === '' ? `attachment-${index}${extensionFor(data.contentType)}` : name;
}

function extensionFor(contentType: string): string {
  const subtype = contentType.split('/')[1]?.split(/[+;]/)[0]?.toLowerCase() ?? '';
  return /^[a-z0-9.-]{1,10}$/.test(subtype) ? `.${subtype === 'plain' ? 'txt' : subtype}` : '.bin';
}

/**
 * A name safe on any file system: no separators, reserved or control characters, no leading dots (hidden files,
 * `..`), bounded length with the extension kept.
 */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is being replaced
  const cleaned = basename(name.replace(/[\\/]/g, '_')).replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_');
  let safe = cleaned.replace(/^[.\s]+/, '').trim();
  if (safe === '') safe = 'attachment';
  if (safe.length > MAX_FILENAME_CHARS) {
    const extension = extname(safe).slice(0, 16);
    safe = safe.slice(0, MAX_FILENAME_CHARS - extension.length) + extension;
  }
  return safe;
}

/** The Content-IDs the HTML shows (`<img src="cid:…">`, also as a background), lower-cased. */
function referencedCids(html: string): Set<string> {
  const cids = new Set<string>();
  const document = parseHtmlDocument(html);
  for (const element of Array.from(document.querySelectorAll('[src], [background]'))) {
    for (const attribute of ['src', 'background']) {
      const value = element.getAttribute(attribute)?.trim() ?? '';
      if (value.toLowerCase().startsWith('cid:')) cids.add(decodeCid(value.slice(4)).toLowerCase());
    }
  }
  return cids;
}

function decodeCid(value: string): string {
  try {
    return decodeURIComponent(value).replace(/^<|>$/g, '');
  } catch (error) {
    // A malformed escape is the cid written literally (RFC 2392 says escape, not every mailer does).
    if (error instanceof URIError) return value.replace(/^<|>$/g, '');
    throw error;
  }
}

function headerBlock(parser: MailParser, subject: string): string {
  const lines: string[] = [];
  const add = (name: string, value: string | undefined): void => {
    const clean = value?.replace(/\s+/g, ' ').trim() ?? '';
    if (clean !== '') lines.push(`${name}: ${clean}`);
  };
  add('From', addressText(parser.from));
  add('To', addressText(parser.to));
  add('Cc', addressText(parser.cc));
  add('Date', rawHeader(parser.headerLines, 'date') ?? parser.date?.toISOString());
  add('Subject', subject);
  return lines.join('\n');
}

function addressText(value: AddressObject | AddressObject[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [value]).map((a) => a.text).join(', ');
}

/** A header as the sender wrote it (the Date as the sender's client formatted it), unfolded. */
function rawHeader(lines: HeaderLines | false, key: string): string | undefined {
  if (lines === false) return undefined;
  const line = lines.find((l) => l.key === key)?.line;
  if (line === undefined) return undefined;
  const colon = line.indexOf(':');
  return colon === -1
    ? undefined
    : line
        .slice(colon + 1)
        .replace(/\r?\n[ \t]+/g, ' ')
        .trim();
}

function bodyBlocks(body: MessageText | null): Block[] {
  if (body === null) return [];
  if (body.text !== undefined && body.text.trim() !== '') {
    return body.text
      .replace(/\r\n?/g, '\n')
      .split(/\n[ \t]*\n/)
      .map((text) => ({ kind: 'paragraph' as const, text }))
      .filter((b) => b.text.trim() !== '');
  }
  if (body.html !== undefined && body.html.trim() !== '') return htmlToBlocks(parseHtmlDocument(body.html));
  return [];
}

function tooManyAttachments(count: number, max: number): QuarryError {
  return new QuarryError('archive_too_large', `The e-mail has more than the ${max} attachments allowed`, {
    details: { attachments: count, maxArchiveEntries: max },
  });
}

async function removeAll(attachments: readonly ExtractedAttachment[]): Promise<void> {
  await Promise.all(attachments.map((a) => rm(a.path, { force: true })));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
