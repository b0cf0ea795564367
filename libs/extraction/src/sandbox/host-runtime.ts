import { QuarryError } from '@quarry/contracts';
import type { DetectedType } from '@quarry/contracts';
import type { FormatParser, ParserSink } from '../formats/types';
import type { HostMessage, ParseTask, SerializedFailure } from './protocol';

/**
 * The parser host's runtime: a child process of the ingest worker that runs one format parser at a time. The worker
 * limits its time and memory and kills it when a document hangs it, exhausts it or crashes it, so a hostile
 * document costs this process, never the worker. Started by ParserPool; talks over the IPC channel only.
 */
function post(message: HostMessage): void {
  // A parent that is gone cannot take results; the 'disconnect' handler below ends this process.
  if (process.connected) process.send?.(message);
}

let current: number | undefined;

/** Each type's parser, loaded when a document of that type first comes. */
export type ParserLoaders = Partial<Record<DetectedType, () => FormatParser>>;

async function run(parsers: ParserLoaders, task: ParseTask): Promise<void> {
  current = task.taskId;
  const { taskId, input } = task;
  const load = parsers[input.type];
  try {
    if (load === undefined) {
      throw new QuarryError('unsupported_type', `no parser for ${input.type} documents`);
    }
    const parser = load();
    const sink: ParserSink = {
      page: (page) => post({ kind: 'page', taskId, page }),
      image: (image) => post({ kind: 'image', taskId, image }),
      attachment: (attachment) => post({ kind: 'attachment', taskId, attachment }),
    };
    const meta = await parser(input, sink);
    post({ kind: 'done', taskId, meta });
  } catch (error) {
    post({ kind: 'failed', taskId, failure: serialize(error) });
  } finally {
    current = undefined;
  }
}

export function serialize(error: unknown): SerializedFailure {
  if (error instanceof QuarryError) {
    return {
      code: error.code,
      name: error.name,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Serves parse tasks from the parent over IPC until the parent disconnects. */
export function serveParsers(parsers: ParserLoaders): void {
  const tmp = process.argv[2];
  // The pool hands each host a temp folder of its own and removes it with the host (see ParserPool.spawn).
  // eslint-disable-next-line no-restricted-syntax -- this process's own temp folder, not configuration
  if (tmp) process.env['TMPDIR'] = tmp;
  process.on('message', (message: ParseTask) => {
    if (message.kind === 'parse') void run(parsers, message);
  });
  // An error thrown outside a parser's promise chain (a library's stray callback) leaves this process in an
  // unknown state: report it for the task at hand and exit, so the next document gets a fresh host.
  process.on('uncaughtException', (error) => {
    process.exitCode = 70;
    const leave = (): void => process.disconnect?.();
    if (current === undefined || !process.connected) return leave();
    const failure = { ...serialize(error), name: 'UncaughtException' };
    // Disconnect only once the report is written, or the parent might see the exit first.
    process.send?.({ kind: 'failed', taskId: current, failure } satisfies HostMessage, undefined, {}, leave);
  });
  process.on('disconnect', () => process.exit());
  post({ kind: 'ready' });
}
