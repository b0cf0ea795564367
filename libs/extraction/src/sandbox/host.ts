import { PARSERS } from '../formats/registry';
import { serveParsers } from './host-runtime';

// The entry point ParserPool forks: every format parser, served over IPC.
serveParsers(PARSERS);
