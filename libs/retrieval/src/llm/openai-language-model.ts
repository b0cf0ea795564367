import { QuarryError, validateAgainst } from '@quarry/contracts';
import type OpenAI from 'openai';
import { createOpenAiClient } from '../openai/client';
import { fromOpenAiError } from '../openai/errors';
import type { LanguageModel, StructuredAnswer, StructuredPrompt } from './language-model';

export interface OpenAiLanguageModelOptions {
  baseUrl: string;
  apiKey?: string | undefined;
  model: string;
  /** Per call, including reading the answer. */
  timeoutMs: number;
}

const MAX_OUTPUT_IN_MESSAGE = 300;

/**
 * Chat completions with `response_format: json_schema` on any OpenAI-compatible server, through the official client
 * (retries off: the job's redelivery retries). The answer is parsed and validated against the schema here whatever
 * the server claims to enforce: servers that ignore `response_format` exist, and an invalid object must fail the call,
 * not the code that reads it.
 */
export class OpenAiLanguageModel implements LanguageModel {
  readonly model: string;
  private readonly client: OpenAI;
  private readonly server: string;
  private readonly timeoutMs: number;

  constructor(options: OpenAiLanguageModelOptions) {
    this.model = options.model;
    this.timeoutMs = options.timeoutMs;
    this.client = createOpenAiClient(options);
    this.server = `language model server ${options.baseUrl.replace(/\/+$/, '')}`;
  }

  async generate(prompt: StructuredPrompt): Promise<StructuredAnswer> {
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model: this.model,
          messages: [
            { role: 'system', content: prompt.system },
            { role: 'user', content: prompt.user },
          ],
          response_format: {
            type: 'json_schema',
            json_schema: { name: prompt.name, schema: prompt.schema, strict: prompt.strict },
          },
          // Deterministic as far as the server allows: the same documents should get the same labels.
          temperature: 0,
        },
        prompt.signal ? { signal: prompt.signal } : undefined,
      );
    } catch (error) {
      if (error instanceof SyntaxError) throw invalid(`${this.server} sent a body that is not JSON`, error);
      throw fromOpenAiError(error, 'llm_unavailable', this.server, this.timeoutMs);
    }
    // The client hands over a body that is not JSON as text: a proxy's page or a cut connection.
    if (typeof completion !== 'object') throw invalid(`${this.server} sent a body that is not JSON`);
    const tokens = {
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
    };
    return { output: this.outputOf(completion, prompt.schema), tokens };
  }

  private outputOf(
    completion: OpenAI.Chat.Completions.ChatCompletion,
    schema: Record<string, unknown>,
  ): unknown {
    const choice = completion.choices[0];
    if (!choice) throw invalid(`${this.server} answered with no choice`);
    const { message, finish_reason: finish } = choice;
    if (message.refusal) throw invalid(`the model refused: ${snippet(message.refusal)}`);
    if (finish === 'length') throw invalid('the answer was cut short at the token limit');
    if (finish === 'content_filter') throw invalid("the server's content filter stopped the answer");
    const content = message.content ?? '';
    let output: unknown;
    try {
      output = JSON.parse(content);
    } catch (error) {
      throw invalid(`the answer is not JSON: ${snippet(content)}`, error);
    }
    const problem = validateAgainst(schema, output);
    if (problem !== undefined) throw invalid(`the answer does not match the schema: ${problem}`);
    return output;
  }
}

/** Retryable: a model that answered badly once may answer well on the next delivery; past the limit the job fails. */
function invalid(message: string, cause?: unknown): QuarryError {
  return new QuarryError('llm_invalid_output', message, {
    retryable: true,
    ...(cause === undefined ? {} : { cause }),
  });
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_OUTPUT_IN_MESSAGE ? `${flat.slice(0, MAX_OUTPUT_IN_MESSAGE)}…` : flat || '(empty)';
}
