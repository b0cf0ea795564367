import { QuarryError } from '@quarry/contracts';
import { readFile } from 'node:fs/promises';
import type { FormatParser } from '../../formats/types';
import { serveParsers } from '../host-runtime';

/**
 * A host whose "parsers" misbehave on purpose, keyed by the type they are asked for, so ParserPool's limits are
 * tested against a real child process.
 */
const echo: FormatParser = async (input, sink) => {
  const text = await readFile(input.path, 'utf8');
  text.split('\f').forEach((part, i) => sink.page({ pageNumber: i + 1, text: part }));
  sink.attachment({
    filename: 'inner.txt',
    contentType: 'text/plain',
    path: input.path,
    sizeBytes: text.length,
  });
  return { title: 'echo' };
};

const hang: FormatParser = () => new Promise(() => setInterval(() => undefined, 1000));

const hog: FormatParser = () => {
  // Native memory (Buffers) grows past the RSS limit long before the heap limit matters.
  const kept: Buffer[] = [];
  return new Promise(() => {
    setInterval(() => kept.push(Buffer.alloc(32 * 1024 * 1024, 1)), 5);
  });
};

const heapHog: FormatParser = () => {
  const kept: string[][] = [];
  for (;;) kept.push(Array.from({ length: 100_000 }, (_, i) => `entry ${i} ${kept.length}`));
};

const crash: FormatParser = () => {
  process.kill(process.pid, 'SIGSEGV');
  return new Promise(() => undefined);
};

const stray: FormatParser = () => {
  setTimeout(() => {
    throw new Error('thrown from a stray callback');
  }, 1);
  return new Promise(() => undefined);
};

const refuse: FormatParser = () =>
  Promise.reject(new QuarryError('encrypted', 'the document is password-protected'));
const libraryThrows: FormatParser = () =>
  Promise.reject(new TypeError('Cannot read properties of undefined'));

serveParsers({
  text: () => echo,
  html: () => hang,
  png: () => hog,
  gif: () => heapHog,
  bmp: () => crash,
  rtf: () => stray,
  epub: () => refuse,
  docx: () => libraryThrows,
});
