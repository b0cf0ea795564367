import type { TextSearchConfig } from '@quarry/contracts';
import { franc } from 'franc-min';

/**
 * PostgreSQL's snowball text-search configurations (TEXT_SEARCH_CONFIGS in contracts) by the ISO 639-3 code franc
 * answers. A language without one is indexed with 'simple' (lower-cased words, no stemming, no stop words), which
 * still finds exact terms.
 */
const CONFIG_BY_LANGUAGE: Readonly<Record<string, TextSearchConfig>> = {
  eng: 'english',
  deu: 'german',
  fra: 'french',
  spa: 'spanish',
  ita: 'italian',
  por: 'portuguese',
  nld: 'dutch',
  rus: 'russian',
  swe: 'swedish',
  nob: 'norwegian',
  dan: 'danish',
  fin: 'finnish',
  hun: 'hungarian',
  tur: 'turkish',
  ron: 'romanian',
};

export interface DetectedLanguage {
  /** ISO 639-3, or null when the text is too short or too mixed to tell. */
  language: string | null;
  config: TextSearchConfig;
}

// franc needs some text to be right; below this it guesses. 10,000 characters are plenty and bound the cost.
const MIN_CHARS = 60;
const SAMPLE_CHARS = 10_000;

/** The language of a document's text (trigram statistics, offline) and the configuration to index it with. */
export function detectLanguage(text: string): DetectedLanguage {
  const sample = text.slice(0, SAMPLE_CHARS);
  if (sample.replace(/\s+/g, '').length < MIN_CHARS) return { language: null, config: 'simple' };
  const code = franc(sample, { minLength: MIN_CHARS });
  if (code === 'und') return { language: null, config: 'simple' };
  return { language: code, config: configFor(code) };
}

/** The configuration for an ISO 639-3 code: its stemmer, or 'simple'. */
export function configFor(language: string): TextSearchConfig {
  return CONFIG_BY_LANGUAGE[language] ?? 'simple';
}
