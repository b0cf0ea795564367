import type { ErrorCode } from '@quarry/contracts';
import type { ExtractedPage } from '../types';
import type { ExtractedAttachment, PageImage, ParsedMeta, ParseInput } from '../formats/types';

/** Parent → host: parse one document. One task at a time per host. */
export interface ParseTask {
  kind: 'parse';
  taskId: number;
  input: ParseInput;
}

/** A failure as it crosses the process boundary; `code` when the parser threw a QuarryError. */
export interface SerializedFailure {
  code?: ErrorCode;
  name: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Host → parent, in order: results as they come, then exactly one of `done` or `failed`. */
export type HostMessage =
  | { kind: 'ready' }
  | { kind: 'page'; taskId: number; page: ExtractedPage }
  | { kind: 'image'; taskId: number; image: PageImage }
  | { kind: 'attachment'; taskId: number; attachment: ExtractedAttachment }
  | { kind: 'done'; taskId: number; meta: ParsedMeta }
  | { kind: 'failed'; taskId: number; failure: SerializedFailure };
