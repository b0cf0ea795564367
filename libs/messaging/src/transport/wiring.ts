import { Commands, Services, type CommandName } from '@quarry/contracts';
import {
  commandPattern,
  DEAD_LETTER_STREAM_PATTERN,
  deadLetterPattern,
  MAX_DELIVERIES_PATTERN,
  PUBLIC_EVENTS_PATTERN,
  servicePattern,
  type ServiceName,
} from './patterns';

export class HandlerWiringError extends Error {
  override readonly name = 'HandlerWiringError';
}

/** What an app says it handles. */
export interface WiringExpectation {
  commands: readonly CommandName[];
  services: readonly ServiceName[];
  /** Records the DLQ stream (one `@OnDeadLetterMessage` handler). */
  deadLetterStream?: boolean;
  /** Rescues messages stranded at their delivery limit (one `@OnMaxDeliveries` handler). */
  maxDeliveries?: boolean;
  /** Takes every public event through the shared durable consumer (one `@OnPublicEvent` handler). */
  publicEvents?: boolean;
}

/** Each handled pattern, with how many handlers declared it. */
export interface DeclaredPattern {
  pattern: string;
  handlers: number;
}

export interface Wiring {
  commands: CommandName[];
  /** Commands that have a dead-letter hook. */
  deadLetterHooks: CommandName[];
  services: ServiceName[];
  deadLetterStream: boolean;
  maxDeliveries: boolean;
  publicEvents: boolean;
}

/**
 * Checks the declared handlers against what the app says it consumes and serves: exactly one handler per
 * consumed command and served service, at most one dead-letter hook per consumed command, and nothing else.
 * Boot fails on any mismatch, naming every problem at once.
 */
export function planWiring(expected: WiringExpectation, declared: readonly DeclaredPattern[]): Wiring {
  const commandOf = new Map((Object.keys(Commands) as CommandName[]).map((n) => [commandPattern(n), n]));
  const hookOf = new Map((Object.keys(Commands) as CommandName[]).map((n) => [deadLetterPattern(n), n]));
  const serviceOf = new Map((Object.keys(Services) as ServiceName[]).map((n) => [servicePattern(n), n]));
  const problems: string[] = [];
  const count = new Map(declared.map((d) => [d.pattern, d.handlers]));
  const wiring: Wiring = {
    commands: [],
    deadLetterHooks: [],
    services: [],
    deadLetterStream: expected.deadLetterStream ?? false,
    maxDeliveries: expected.maxDeliveries ?? false,
    publicEvents: expected.publicEvents ?? false,
  };
  const singles = [
    { pattern: DEAD_LETTER_STREAM_PATTERN, wanted: wiring.deadLetterStream, what: 'the DLQ stream' },
    { pattern: MAX_DELIVERIES_PATTERN, wanted: wiring.maxDeliveries, what: 'max-deliveries advisories' },
    { pattern: PUBLIC_EVENTS_PATTERN, wanted: wiring.publicEvents, what: 'public events' },
  ];
  for (const { pattern, wanted, what } of singles) {
    const n = count.get(pattern) ?? 0;
    if (wanted && n === 0) problems.push(`no handler for ${what} (${pattern})`);
    if (n > 1) problems.push(`${what} has ${n} handlers`);
    if (!wanted && n > 0) problems.push(`a handler for ${what} (${pattern}), which this app does not take`);
  }

  for (const name of expected.commands) {
    const n = count.get(commandPattern(name)) ?? 0;
    if (n === 0) problems.push(`no handler for command ${name} (${commandPattern(name)})`);
    if (n > 1) problems.push(`command ${name} has ${n} handlers`);
    if ((count.get(deadLetterPattern(name)) ?? 0) > 1)
      problems.push(`command ${name} has several dead-letter hooks`);
    if (count.has(deadLetterPattern(name))) wiring.deadLetterHooks.push(name);
    wiring.commands.push(name);
  }
  for (const name of expected.services) {
    const n = count.get(servicePattern(name)) ?? 0;
    if (n === 0) problems.push(`no handler for service ${name} (${servicePattern(name)})`);
    if (n > 1) problems.push(`service ${name} has ${n} handlers`);
    wiring.services.push(name);
  }
  for (const { pattern } of declared) {
    if (singles.some((x) => x.pattern === pattern)) continue;
    const command = commandOf.get(pattern) ?? hookOf.get(pattern);
    const service = serviceOf.get(pattern);
    if (command !== undefined && !expected.commands.includes(command))
      problems.push(`a handler for ${pattern}, a command this app does not consume (${command})`);
    else if (service !== undefined && !expected.services.includes(service))
      problems.push(`a handler for ${pattern}, a service this app does not serve (${service})`);
    else if (command === undefined && service === undefined)
      problems.push(`a handler for ${pattern}, which is neither a command nor a service of the catalogue`);
  }
  if (problems.length > 0)
    throw new HandlerWiringError(`message handler wiring is wrong:\n  ${problems.join('\n  ')}`);
  return wiring;
}
