import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A chat completion request as the stand-in received it. */
export interface ChatCall {
  model: string;
  messages: { role: string; content: string }[];
  responseFormat:
    { type: string; json_schema?: { name: string; schema: unknown; strict?: boolean } } | undefined;
  headers: IncomingHttpHeaders;
  /** The system and user messages joined: what a recorded answer is looked up by. */
  prompt: string;
}

export interface EmbeddingsCall {
  model: string;
  input: string[];
  encodingFormat: string | undefined;
  headers: IncomingHttpHeaders;
  /** When it arrived (ms since the epoch): how long a client waited before asking again. */
  at: number;
}

/**
 * What the stand-in answers: a chat completion whose message content is `content` (an object is sent as its JSON,
 * a string as it is, which lets a test send text that is not JSON), or an HTTP error, or nothing at all (`hang`,
 * for timeouts).
 */
export type StandInReply =
  | {
      content: unknown;
      promptTokens?: number;
      completionTokens?: number;
      finishReason?: 'stop' | 'length' | 'content_filter';
      refusal?: string;
      /** Answer after this long: a model that takes its time (long jobs, heartbeats). */
      delayMs?: number;
    }
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { hang: true };

export type EmbeddingsReply =
  | { vectors: number[][]; promptTokens?: number }
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { hang: true };

/**
 * A server on loopback speaking OpenAI's HTTP API (`POST /v1/chat/completions`, `POST /v1/embeddings`) for tests of
 * the real `openai` client and of the apps configured with it: what a hosted model, Ollama or vLLM would be, with
 * answers the test scripts (recorded answers, errors, silence) and every request kept for assertions.
 */
export class OpenAiStandIn {
  readonly chatCalls: ChatCall[] = [];
  readonly embeddingsCalls: EmbeddingsCall[] = [];
  private completions = 0;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    public chat: (call: ChatCall) => StandInReply | Promise<StandInReply>,
    public embeddings: (call: EmbeddingsCall) => EmbeddingsReply | Promise<EmbeddingsReply>,
  ) {}

  static async start(
    handlers: {
      chat?: (call: ChatCall) => StandInReply | Promise<StandInReply>;
      embeddings?: (call: EmbeddingsCall) => EmbeddingsReply | Promise<EmbeddingsReply>;
    } = {},
  ): Promise<OpenAiStandIn> {
    // The server's handler needs the stand-in, which needs the server's port: filled in once listening.
    const made: { standIn?: OpenAiStandIn } = {};
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        made.standIn
          ?.route(req.url ?? '', req.headers, Buffer.concat(parts).toString('utf8'), res)
          .catch((error: unknown) => send(res, 500, { error: { message: String(error) } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const standIn = new OpenAiStandIn(
      server,
      `http://127.0.0.1:${port}/v1`,
      handlers.chat ?? (() => ({ status: 404, body: { error: { message: 'no chat answers scripted' } } })),
      handlers.embeddings ??
        (() => ({ status: 404, body: { error: { message: 'no embeddings scripted' } } })),
    );
    made.standIn = standIn;
    return standIn;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(url: string, headers: IncomingHttpHeaders, body: string, res: ServerResponse) {
    const request = JSON.parse(body) as Record<string, unknown>;
    if (url.endsWith('/chat/completions')) {
      const messages = (request['messages'] ?? []) as ChatCall['messages'];
      const call: ChatCall = {
        model: String(request['model']),
        messages,
        responseFormat: request['response_format'] as ChatCall['responseFormat'],
        headers,
        prompt: messages.map((m) => m.content).join('\n'),
      };
      this.chatCalls.push(call);
      const reply = await this.chat(call);
      if ('hang' in reply) return; // the client's timeout ends it
      if ('status' in reply) return send(res, reply.status, reply.body ?? {}, reply.headers);
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (res.destroyed) return; // the client gave up meanwhile
      const content = typeof reply.content === 'string' ? reply.content : JSON.stringify(reply.content);
      const prompt = reply.promptTokens ?? Math.ceil(call.prompt.length / 4);
      const completion = reply.completionTokens ?? Math.ceil(content.length / 4);
      this.completions += 1;
      return send(res, 200, {
        id: `chatcmpl-standin-${this.completions}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: call.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: reply.refusal ? null : content,
              refusal: reply.refusal ?? null,
            },
            finish_reason: reply.finishReason ?? 'stop',
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      });
    }
    if (url.endsWith('/embeddings')) {
      const input = request['input'];
      const call: EmbeddingsCall = {
        model: String(request['model']),
        input: Array.isArray(input) ? input.map(String) : [String(input)],
        encodingFormat:
          typeof request['encoding_format'] === 'string' ? request['encoding_format'] : undefined,
        headers,
        at: Date.now(),
      };
      this.embeddingsCalls.push(call);
      const reply = await this.embeddings(call);
      if ('hang' in reply) return;
      if ('status' in reply) return send(res, reply.status, reply.body ?? {}, reply.headers);
      const tokens = reply.promptTokens ?? call.input.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
      return send(res, 200, {
        object: 'list',
        model: call.model,
        data: reply.vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    }
    return send(res, 404, { error: { message: `no route ${url}` } });
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}
