import { EVENT_TYPES, EventTypePattern, eventTypeMatches } from './events';
import { topology } from './catalogue';

describe('event type patterns', () => {
  it('takes every type, a family or one type, and nothing else', () => {
    for (const p of ['*', 'job.*', 'document.*', 'webhook.*', ...EVENT_TYPES]) {
      expect(EventTypePattern.safeParse(p).success).toBe(true);
    }
    for (const p of ['', 'job', 'job.done', 'jobs.*', '*.*', 'job.>', 'document.indexed ']) {
      expect(EventTypePattern.safeParse(p).success).toBe(false);
    }
  });

  it('matches as the subject filter would', () => {
    expect(eventTypeMatches('*', 'document.failed')).toBe(true);
    expect(eventTypeMatches('job.*', 'job.succeeded')).toBe(true);
    expect(eventTypeMatches('job.*', 'document.failed')).toBe(false);
    expect(eventTypeMatches('document.failed', 'document.failed')).toBe(true);
    expect(eventTypeMatches('document.failed', 'document.indexed')).toBe(false);
  });

  it('narrows the events subject by tenant, scope and type, and leaves internal signals out', () => {
    const t = topology('quarry');
    expect(t.publicEventFilter({})).toBe('quarry.events.*.*.*.*');
    expect(t.publicEventFilter({ tenantId: 'T', scopeId: 'J' })).toBe('quarry.events.T.J.*.*');
    expect(t.publicEventFilter({ tenantId: 'T', type: 'job.*' })).toBe('quarry.events.T.*.job.*');
    expect(t.publicEventFilter({ tenantId: 'T', type: 'job.failed' })).toBe('quarry.events.T.*.job.failed');
    // `quarry.events.job.cancelled` has two tokens after `events`: no public filter takes it.
    expect(t.eventSubject('cancelled').split('.')).toHaveLength(4);
  });
});
