import { applyDecorators, Catch, UseFilters, type RpcExceptionFilter } from '@nestjs/common';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { Commands, Services, type CommandName } from '@quarry/contracts';
import { throwError, type Observable } from 'rxjs';

export type ServiceName = keyof typeof Services;

/** The pattern of a command's handler: the command's subject in the catalogue. */
export function commandPattern(name: CommandName): string {
  return Commands[name].subject;
}

/** The pattern of the hook called once when a command is dead-lettered. */
export function deadLetterPattern(name: CommandName): string {
  return `${Commands[name].subject}:dead-lettered`;
}

/** The pattern of the handler of every message of the DLQ stream (recording dead letters). */
export const DEAD_LETTER_STREAM_PATTERN = 'dlq:*';

/** The pattern of the handler of every public event (the webhook dispatcher's fan-out, ADR 30). */
export const PUBLIC_EVENTS_PATTERN = 'events:public';

/** The pattern of the handler of the jobs stream's MAX_DELIVERIES advisories (rescuing stranded messages). */
export const MAX_DELIVERIES_PATTERN = 'advisory:max-deliveries';

/** The pattern of a request/reply service's handler: the service's subject in the catalogue. */
export function servicePattern(name: ServiceName): string {
  return Services[name].subject;
}

/**
 * Hands a handler's error to the transport as it was thrown. Nest's default RPC filter would replace it with
 * `{status: 'error', message: 'Internal server error'}`, and the transport needs the error itself: its code
 * decides retry or dead letter, and an outage of a dependency holds the message instead of spending a delivery.
 */
@Catch()
export class PassErrorsToTransport implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * Declares the handler of a command (an `@EventPattern` on its catalogue subject). It takes the payload
 * (`@Payload()`, already validated against the catalogue's schema) and the delivery (`@Ctx()`, a
 * JetStreamContext) and returns a HandlerOutcome; only the transport acks, naks with a delay or dead-letters.
 */
export function OnCommand(name: CommandName): MethodDecorator {
  return applyDecorators(EventPattern(commandPattern(name)), UseFilters(PassErrorsToTransport));
}

/**
 * Declares the hook called once when a command is dead-lettered (the delivery limit, or a permanent error), so
 * the job records the failure instead of staying non-terminal. `@Payload()` is the command, `@Ctx()` a
 * DeadLetterContext with the error.
 */
export function OnDeadLetter(name: CommandName): MethodDecorator {
  return applyDecorators(EventPattern(deadLetterPattern(name)), UseFilters(PassErrorsToTransport));
}

/** Declares the handler of a request/reply service (a `@MessagePattern` on its catalogue subject). */
export function OnRequest(name: ServiceName): MethodDecorator {
  return applyDecorators(MessagePattern(servicePattern(name)), UseFilters(PassErrorsToTransport));
}

/**
 * Declares the handler of every message of the DLQ stream (`@Payload()` a DeadLetterMessage). Resolving acks it;
 * throwing naks it with a backoff.
 */
export function OnDeadLetterMessage(): MethodDecorator {
  return applyDecorators(EventPattern(DEAD_LETTER_STREAM_PATTERN), UseFilters(PassErrorsToTransport));
}

/**
 * Declares the handler of the jobs stream's MAX_DELIVERIES advisories (`@Payload()` a MaxDeliveriesAdvisory).
 * A throw is retried a few times: advisories are not stored.
 */
export function OnMaxDeliveries(): MethodDecorator {
  return applyDecorators(EventPattern(MAX_DELIVERIES_PATTERN), UseFilters(PassErrorsToTransport));
}

/**
 * Declares the handler of every public event (`@Payload()` a PublicEventMessage), pulled through the webhook
 * dispatcher's durable consumer shared by all replicas. Resolving acks it; throwing naks it with a backoff.
 */
export function OnPublicEvent(): MethodDecorator {
  return applyDecorators(EventPattern(PUBLIC_EVENTS_PATTERN), UseFilters(PassErrorsToTransport));
}
