import type { DetectedType } from '@quarry/contracts';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExtractedPage } from '../../types';
import type { ExtractedAttachment, FormatParser, PageImage, ParsedMeta, ParseLimits } from '../types';

export const TEST_LIMITS: ParseLimits = {
  maxPages: 50,
  maxPixels: 50_000_000,
  maxArchiveEntries: 200,
  maxUncompressedBytes: 32 * 1024 * 1024,
};

export interface ParsedFixture {
  meta: ParsedMeta;
  pages: ExtractedPage[];
  images: PageImage[];
  attachments: ExtractedAttachment[];
  workDir: string;
}

const dirs: string[] = [];

/** A scratch folder removed by `removeScratch` (call it from afterAll). */
export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'quarry-formats-'));
  dirs.push(dir);
  return dir;
}

export async function removeScratch(): Promise<void> {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Writes the bytes to a scratch file and runs the parser on it with a collecting sink. */
export async function parseFixture(
  parser: FormatParser,
  bytes: Uint8Array | string,
  options: { type: DetectedType; limits?: Partial<ParseLimits>; filenameHint?: string },
): Promise<ParsedFixture> {
  const dir = await scratchDir();
  const path = join(dir, 'input');
  await writeFile(path, bytes);
  const workDir = join(dir, 'work');
  await mkdir(workDir);
  const pages: ExtractedPage[] = [];
  const images: PageImage[] = [];
  const attachments: ExtractedAttachment[] = [];
  const meta = await parser(
    {
      path,
      type: options.type,
      workDir,
      limits: { ...TEST_LIMITS, ...options.limits },
      ...(options.filenameHint !== undefined ? { filenameHint: options.filenameHint } : {}),
    },
    {
      page: (page) => void pages.push(page),
      image: (image) => void images.push(image),
      attachment: (attachment) => void attachments.push(attachment),
    },
  );
  return { meta, pages, images, attachments, workDir };
}

/** The code of the QuarryError a parse fails with (or the error itself when it is something else). */
export async function failureOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      code: typeof code === 'string' ? code : 'not a QuarryError',
      message: String((error as Error).message),
    };
  }
  throw new Error('expected the parse to fail, it succeeded');
}
