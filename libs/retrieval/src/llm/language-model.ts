/** One call's tokens, as the server counted them. */
export interface TokenCount {
  promptTokens: number;
  completionTokens: number;
}

/** A request for an object valid against a JSON Schema (structured outputs). */
export interface StructuredPrompt {
  /** Names the output in the request: letters, digits, `_` and `-`. */
  name: string;
  system: string;
  user: string;
  /** The JSON Schema (an object) the output must be valid against; checked again on the answer. */
  schema: Record<string, unknown>;
  /**
   * Quarry's own schemas follow the strict mode's rules (every property required, no additional ones), so the
   * server enforces them while generating; a client's schema (extract) may not, and is checked on arrival only.
   */
  strict: boolean;
  signal?: AbortSignal;
}

export interface StructuredAnswer {
  output: unknown;
  tokens: TokenCount;
}

/**
 * A language model behind a port (the analyses' only way to one). Failures are QuarryErrors: `llm_unavailable`
 * (the server away, slow, overloaded — retried; not for a bad key or an unknown model) or `llm_invalid_output`
 * (an answer that is not JSON, not valid against the schema, cut short or refused).
 */
export interface LanguageModel {
  /** Which model answers, as configured: recorded with the usage. */
  readonly model: string;
  generate(prompt: StructuredPrompt): Promise<StructuredAnswer>;
}
