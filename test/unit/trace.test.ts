import { describe, expect, it } from 'vitest';
import { renderTrace, timelineOf, type TraceNode } from '../../lib/client/trace.ts';
import type { LifecycleRecord } from '../../lib/policy/index.ts';

const at = (seconds: number) => Date.UTC(2026, 11, 5, 12, 0, 0) + seconds * 1000;

/** A record as the runtime writes one: failed twice, dead-lettered, redriven, applied, its onward message sent. */
const record: LifecycleRecord = {
  correlationId: 'o-1',
  channel: 'billing',
  messageId: 'm-2',
  status: 'succeeded',
  attempts: 3,
  attemptsBeforeRedrive: 2,
  sentAt: at(0),
  firstReceivedAt: at(0.1),
  updatedAt: at(70),
  completedAt: at(70),
  onward: [{ kind: 'channel', target: 'ledger', correlationId: 'l-1' }],
  history: [
    { at: at(0.2), status: 'retrying', attempt: 1, reason: 'Error: ledger closed' },
    { at: at(2.2), status: 'dead-lettered', attempt: 2, reason: 'gave up after 2 attempts: Error: ledger closed' },
    { at: at(60), status: 'succeeded', attempt: 1 },
    { at: at(60.05), status: 'sent-on', attempt: 1 },
  ],
};

describe('Function: timelineOf', () => {
  it('tells a record’s history in order: sent, each failure and when it came back, the dead-lettering, the redrive, the commit, the sends', () => {
    expect(timelineOf(record)).toStrictEqual([
      { at: at(0), what: 'sent' },
      { at: at(0.2), what: 'failed', attempt: 1, reason: 'Error: ledger closed', nextReceiveAfterMs: 2000 },
      { at: at(2.2), what: 'dead-lettered', attempt: 2, reason: 'gave up after 2 attempts: Error: ledger closed' },
      { at: at(60), what: 'redriven' },
      { at: at(60), what: 'applied', attempt: 1 },
      { at: at(60.05), what: 'sent on', attempt: 1, onward: ['ledger l-1'] },
    ]);
  });

  it('shows an outside effect’s claim, and leaves out the sending time a record made before it was kept', () => {
    const { sentAt: _sentAt, ...older } = record;
    const claimed = { ...older, history: [{ at: at(1), status: 'in-progress' as const, attempt: 1 }] };
    expect(timelineOf(claimed)).toStrictEqual([{ at: at(1), what: 'claimed', attempt: 1 }]);
  });
});

describe('Function: renderTrace', () => {
  it('prints one block per message, its onward messages indented under it, times in UTC', () => {
    const ledger: TraceNode = { correlationId: 'l-1', channel: 'ledger', status: 'succeeded', causationId: 'o-1', events: [{ at: at(61), what: 'applied', attempt: 1 }], onward: [] };
    const billing: TraceNode = { correlationId: 'o-1', channel: 'billing', topic: 'orderPlaced', status: 'succeeded', reply: { invoiceId: 'INV-1' }, events: timelineOf(record), onward: [ledger] };
    expect(renderTrace([billing])).toBe(
      [
        'billing (through orderPlaced)  o-1  succeeded',
        '  2026-12-05 12:00:00.000  sent',
        '  2026-12-05 12:00:00.200  failed (receive 1): Error: ledger closed; received again 2.0 s later',
        '  2026-12-05 12:00:02.200  dead-lettered (receive 2): gave up after 2 attempts: Error: ledger closed',
        '  2026-12-05 12:01:00.000  redriven',
        '  2026-12-05 12:01:00.000  applied (receive 1)',
        '  2026-12-05 12:01:00.050  sent on (receive 1): ledger l-1',
        '  reply {"invoiceId":"INV-1"}',
        '    ledger  l-1  succeeded, caused by o-1',
        '      2026-12-05 12:01:01.000  applied (receive 1)',
        '',
      ].join('\n'),
    );
  });

  it('says in one line that no record tells of an id', () => {
    expect(renderTrace([{ correlationId: 'nope', channel: '', status: 'unknown', events: [], onward: [] }])).toBe(
      'nope: no lifecycle record (not yet received by a guaranteed consumer, never sent, or past its 30 days)\n',
    );
  });
});
