import { HandlerWiringError, matchHandlers } from './messaging.module';

describe('handler wiring checked at boot', () => {
  it('accepts exactly one handler per consumed command', () => {
    const m = matchHandlers(['ingestDocument'], [{ name: 'ingestDocument', provider: 'IngestHandler' }]);
    expect(m.get('ingestDocument')).toBe('IngestHandler');
  });

  it('fails when a consumed command has no handler', () => {
    expect(() =>
      matchHandlers(['ingestDocument', 'indexDocument'], [{ name: 'ingestDocument', provider: 'A' }]),
    ).toThrow(/no handler for command indexDocument/);
  });

  it('fails when a command has two handlers', () => {
    expect(() =>
      matchHandlers(
        ['indexDocument'],
        [
          { name: 'indexDocument', provider: 'A' },
          { name: 'indexDocument', provider: 'B' },
        ],
      ),
    ).toThrow(HandlerWiringError);
  });

  it('fails when a handler exists for a command the app does not consume', () => {
    expect(() => matchHandlers([], [{ name: 'indexDocument', provider: 'Stray' }])).toThrow(
      /does not consume/,
    );
  });
});
