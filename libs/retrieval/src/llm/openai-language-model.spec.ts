import { OpenAiStandIn, type StandInReply } from '@quarry/test-kit';
import { OpenAiLanguageModel } from './openai-language-model';
import type { StructuredPrompt } from './language-model';

const schema = {
  type: 'object',
  properties: { label: { type: 'string', enum: ['invoice', 'recipe'] }, reason: { type: 'string' } },
  required: ['label', 'reason'],
  additionalProperties: false,
};
const prompt: StructuredPrompt = {
  name: 'classification',
  system: 'You classify documents.',
  user: 'Document: Amount due 4,250 EUR.',
  schema,
  strict: true,
};

describe('OpenAiLanguageModel (the official client against an OpenAI-compatible server on loopback)', () => {
  let server: OpenAiStandIn;
  let reply: StandInReply;

  beforeAll(async () => {
    server = await OpenAiStandIn.start({ chat: () => reply });
  });
  afterAll(() => server.close());
  beforeEach(() => server.chatCalls.splice(0));

  const model = (overrides: Partial<ConstructorParameters<typeof OpenAiLanguageModel>[0]> = {}) =>
    new OpenAiLanguageModel({
      baseUrl: server.baseUrl,
      apiKey: 'sk-test',
      model: 'gpt-test',
      timeoutMs: 2000,
      ...overrides,
    });

  it('asks for the schema as a structured output and returns the object with the tokens counted', async () => {
    reply = {
      content: { label: 'invoice', reason: 'asks for payment' },
      promptTokens: 120,
      completionTokens: 9,
    };
    const answer = await model().generate(prompt);
    expect(answer).toEqual({
      output: { label: 'invoice', reason: 'asks for payment' },
      tokens: { promptTokens: 120, completionTokens: 9 },
    });
    const [call] = server.chatCalls;
    expect(call?.model).toBe('gpt-test');
    expect(call?.headers.authorization).toBe('Bearer sk-test');
    expect(call?.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(call?.responseFormat).toEqual({
      type: 'json_schema',
      json_schema: { name: 'classification', schema, strict: true },
    });
  });

  it('sends no key to a server that needs none', async () => {
    reply = { content: { label: 'recipe', reason: 'ingredients' } };
    await model({ apiKey: undefined }).generate(prompt);
    expect(server.chatCalls[0]?.headers.authorization).toBeUndefined();
  });

  it.each<[string, StandInReply, RegExp]>([
    ['text that is not JSON', { content: 'Sure! The label is invoice.' }, /not JSON/],
    [
      'an object outside the schema',
      { content: { label: 'poem', reason: 'x' } },
      /does not match the schema/,
    ],
    ['an answer cut at the token limit', { content: '{"label": "inv', finishReason: 'length' }, /cut short/],
    ['a refusal', { content: null, refusal: 'I cannot help with that' }, /refused/],
  ])('fails %s as a retryable llm_invalid_output', async (_what, r, message) => {
    reply = r;
    await expect(model().generate(prompt)).rejects.toMatchObject({
      code: 'llm_invalid_output',
      retryable: true,
      message: expect.stringMatching(message) as unknown,
    });
  });

  it('retries an overloaded server after the delay it asks for, and not a bad key', async () => {
    reply = { status: 429, headers: { 'retry-after': '3' }, body: { error: { message: 'rate limited' } } };
    await expect(model().generate(prompt)).rejects.toMatchObject({
      code: 'llm_unavailable',
      retryable: true,
      retryAfterMs: 3000,
    });
    reply = { status: 503, body: { error: { message: 'overloaded' } } };
    await expect(model().generate(prompt)).rejects.toMatchObject({
      code: 'llm_unavailable',
      retryable: true,
    });
    reply = { status: 401, body: { error: { message: 'invalid api key' } } };
    await expect(model().generate(prompt)).rejects.toMatchObject({
      code: 'llm_unavailable',
      retryable: false,
    });
    // One request each: the client's own retries are off, the job's redelivery is the retry policy.
    expect(server.chatCalls).toHaveLength(3);
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    reply = { hang: true };
    const started = Date.now();
    await expect(model({ timeoutMs: 300 }).generate(prompt)).rejects.toMatchObject({
      code: 'llm_unavailable',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('stops when the worker does', async () => {
    reply = { hang: true };
    const controller = new AbortController();
    const pending = model().generate({ ...prompt, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'llm_unavailable', retryable: true });
  });
});
