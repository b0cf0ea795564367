import { QuarryError } from '@quarry/contracts';
import type { OcrEngine } from './ocr-engine';
import { listTesseractLanguages, TesseractCliEngine } from './tesseract-cli';
import { TesseractJsEngine, tesseractJsModelFile } from './tesseract-js';

export type OcrEngineChoice = 'auto' | 'cli' | 'js';

export interface CreateOcrEngineOptions {
  /** `cli`: the tesseract binary, or fail; `js`: tesseract.js; `auto`: the binary when it has every language. */
  engine: OcrEngineChoice;
  languages: readonly string[];
  /** Pages recognised at once (default: the number of cores). */
  concurrency?: number;
  /** The tesseract binary (default `tesseract` on the PATH). */
  tesseractCommand?: string;
}

export interface DescribedOcrEngine extends OcrEngine {
  /** One line for the boot log: which engine, which languages, how many at once, and why this one. */
  describe(): string;
}

/**
 * Picks and starts the OCR engine once, at boot. The binary is preferred (about twice as fast and memory-limited);
 * tesseract.js is the fallback that needs nothing outside npm. A choice that cannot work fails here with what to
 * install, instead of failing every scanned document later.
 */
export async function createOcrEngine(options: CreateOcrEngineOptions): Promise<DescribedOcrEngine> {
  const languages = [...options.languages];
  if (languages.length === 0) throw new RangeError('OCR needs at least one language');
  const command = options.tesseractCommand ?? 'tesseract';

  let cliProblem: string | undefined;
  if (options.engine !== 'js') {
    cliProblem = await cliUnusableBecause(command, languages);
    if (cliProblem === undefined) {
      const engine = new TesseractCliEngine({ command, concurrency: options.concurrency });
      return described(engine, `tesseract binary (${command})`, languages);
    }
    if (options.engine === 'cli') throw new Error(`OCR engine 'cli' is not usable: ${cliProblem}`);
  }

  const missing: string[] = [];
  for (const language of languages) {
    if ((await tesseractJsModelFile(language)) === undefined) missing.push(`@tesseract.js-data/${language}`);
  }
  if (missing.length > 0) {
    const why = cliProblem === undefined ? '' : ` (the tesseract binary is not usable: ${cliProblem})`;
    throw new Error(
      `OCR engine tesseract.js has no model for ${languages.join('+')}${why}: install ${missing.join(', ')}`,
    );
  }
  const engine = new TesseractJsEngine({ languages, concurrency: options.concurrency });
  const reason = cliProblem === undefined ? 'as configured' : `fallback: ${cliProblem}`;
  return described(engine, `tesseract.js (${reason})`, languages);
}

/** Why the binary cannot serve these languages, or undefined when it can. */
async function cliUnusableBecause(
  command: string,
  languages: readonly string[],
): Promise<string | undefined> {
  let available: string[];
  try {
    available = await listTesseractLanguages(command);
  } catch (error) {
    if (QuarryError.is(error)) return error.message;
    throw error;
  }
  const missing = languages.filter((language) => !available.includes(language));
  if (missing.length === 0) return undefined;
  const packages = missing.map((language) => `tesseract-ocr-${language.toLowerCase().replace(/_/g, '-')}`);
  return `${command} has no traineddata for ${missing.join(', ')} (Debian: apt-get install ${packages.join(' ')})`;
}

function described(engine: OcrEngine, what: string, languages: readonly string[]): DescribedOcrEngine {
  const line = `${what}, languages ${languages.join('+')}, ${engine.concurrency} page(s) at once`;
  return Object.assign(engine, { describe: () => line });
}
