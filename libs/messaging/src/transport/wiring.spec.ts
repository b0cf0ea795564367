import { HandlerWiringError, planWiring } from './wiring';

const one = (pattern: string) => ({ pattern, handlers: 1 });

describe('handler wiring checked at boot', () => {
  it('accepts one handler per consumed command and served service, and an optional dead-letter hook', () => {
    const wiring = planWiring({ commands: ['ingestDocument', 'indexDocument'], services: ['search'] }, [
      one('jobs.ingest'),
      one('jobs.ingest:dead-lettered'),
      one('jobs.index'),
      one('svc.search'),
    ]);
    expect(wiring).toEqual({
      commands: ['ingestDocument', 'indexDocument'],
      deadLetterHooks: ['ingestDocument'],
      services: ['search'],
      deadLetterStream: false,
      maxDeliveries: false,
      publicEvents: false,
    });
  });

  it('fails when a consumed command or a served service has no handler', () => {
    expect(() =>
      planWiring({ commands: ['ingestDocument', 'indexDocument'], services: ['search'] }, [
        one('jobs.ingest'),
      ]),
    ).toThrow(/no handler for command indexDocument \(jobs\.index\)[\s\S]*no handler for service search/);
  });

  it('fails when a command has two handlers', () => {
    expect(() =>
      planWiring({ commands: ['indexDocument'], services: [] }, [{ pattern: 'jobs.index', handlers: 2 }]),
    ).toThrow(HandlerWiringError);
  });

  it('fails on a handler for a command the app does not consume, or for a pattern outside the catalogue', () => {
    expect(() => planWiring({ commands: [], services: [] }, [one('jobs.index')])).toThrow(/does not consume/);
    expect(() =>
      planWiring({ commands: ['indexDocument'], services: [] }, [one('jobs.index'), one('jobs.indx')]),
    ).toThrow(/jobs\.indx, which is neither a command nor a service/);
    expect(() => planWiring({ commands: [], services: [] }, [one('svc.search')])).toThrow(/does not serve/);
  });

  it('wants exactly one DLQ-stream and one max-deliveries handler from an app that watches dead letters', () => {
    const watcher = { commands: [], services: [], deadLetterStream: true, maxDeliveries: true } as const;
    expect(planWiring(watcher, [one('dlq:*'), one('advisory:max-deliveries')])).toMatchObject({
      deadLetterStream: true,
      maxDeliveries: true,
    });
    expect(() => planWiring(watcher, [one('dlq:*')])).toThrow(/no handler for max-deliveries advisories/);
    expect(() => planWiring({ commands: [], services: [] }, [one('dlq:*')])).toThrow(/does not take/);
  });

  it('wants exactly one public-events handler from an app that dispatches events, and none from another', () => {
    const dispatcher = { commands: [], services: [], publicEvents: true } as const;
    expect(planWiring(dispatcher, [one('events:public')])).toMatchObject({ publicEvents: true });
    expect(() => planWiring(dispatcher, [])).toThrow(/no handler for public events/);
    expect(() => planWiring(dispatcher, [{ pattern: 'events:public', handlers: 2 }])).toThrow(/2 handlers/);
    expect(() => planWiring({ commands: [], services: [] }, [one('events:public')])).toThrow(/does not take/);
  });
});
