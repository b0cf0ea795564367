import { BaseRpcContext } from '@nestjs/microservices';
import type { ErrorInfo } from '@quarry/contracts';
import type { DeliveryContext } from '../handler';

/**
 * What a command handler gets with `@Ctx()`: the delivery it runs for. `working()` resets the server's ack timer
 * (the transport also does so on a timer while the handler runs); `signal` aborts when the process is shutting
 * down, and the handler should then return a retry at its next safe boundary.
 */
export class JetStreamContext extends BaseRpcContext<[DeliveryContext]> implements DeliveryContext {
  constructor(delivery: DeliveryContext) {
    super([delivery]);
  }

  private get delivery(): DeliveryContext {
    return this.getArgs()[0];
  }

  get subject(): string {
    return this.delivery.subject;
  }

  get msgId(): string | undefined {
    return this.delivery.msgId;
  }

  get deliveryCount(): number {
    return this.delivery.deliveryCount;
  }

  get maxDeliver(): number {
    return this.delivery.maxDeliver;
  }

  get traceparent(): string | undefined {
    return this.delivery.traceparent;
  }

  get signal(): AbortSignal {
    return this.delivery.signal;
  }

  working(): void {
    this.delivery.working();
  }
}

/** What a dead-letter hook gets with `@Ctx()`: why its command was dead-lettered. */
export class DeadLetterContext extends BaseRpcContext<[ErrorInfo]> {
  constructor(error: ErrorInfo) {
    super([error]);
  }

  get error(): ErrorInfo {
    return this.getArgs()[0];
  }
}

/** What a request handler gets with `@Ctx()`: the subject the request came on. */
export class RequestContext extends BaseRpcContext<[string]> {
  constructor(subject: string) {
    super([subject]);
  }

  get subject(): string {
    return this.getArgs()[0];
  }
}
