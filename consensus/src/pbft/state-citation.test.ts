// StateCitation (ADR 0125): when an idle primary asks for a block that cites the quiet chain's state.
import t from 'tap';
import { type CitationContext, StateCitation } from './state-citation.ts';

const idle: CitationContext = { isPrimary: true, pending: 0, inFlight: 0, executedAll: true };

t.test('k = 1: after the quiet period, one block citing the last transactions height', async (t) => {
  const s = new StateCitation({ quietMs: 250, stateRootInterval: 1 });
  t.equal(s.due(0, idle), undefined, 'nothing since start: nothing to cite');
  s.applied(1, 5, 0, 1000);
  s.applied(2, 3, 0, 1010); // pipelined: block 2 still cites genesis
  t.equal(s.due(1100, idle), undefined, 'not quiet yet');
  t.equal(s.due(1300, { ...idle, isPrimary: false }), undefined, 'a backup waits twice as long');
  t.equal(s.due(1300, { ...idle, pending: 1 }), undefined, 'transactions wait: the next block cites it');
  t.equal(s.due(1300, { ...idle, inFlight: 1 }), undefined, 'a block in flight');
  t.equal(s.due(1300, { ...idle, executedAll: false }), undefined, 'a committed block not executed yet');
  t.equal(s.due(1300, idle), 2);
  s.applied(3, 0, 2, 1320); // the empty block cites 2
  t.equal(s.due(1500, idle), undefined, 'covered: no more');
  t.equal(s.requested, 1);
  s.activity(1600);
  s.applied(4, 1, 2, 1610);
  t.equal(s.due(1700, idle), undefined, 'arrivals restart the quiet period');
  t.equal(s.due(1900, idle), 4);
});

t.test(
  'k = 8: it asks again without waiting until a root height at or after the last transactions',
  async (t) => {
    const s = new StateCitation({ quietMs: 100, stateRootInterval: 8 });
    s.applied(13, 4, 11, 0);
    t.equal(s.wanted, 16);
    const asked: number[] = [];
    let height = 13;
    let cited = 11;
    for (let now = 200; now < 2000; now += 100) {
      const through = s.due(now, idle);
      if (through === undefined) continue;
      asked.push(through);
      cited = height; // the primary cites its executed state
      height++;
      s.applied(height, 0, cited, now + 10); // blocks without transactions are not activity
    }
    t.same(asked, [16, 16, 16, 16]);
    t.equal(cited, 16, 'the last block cites 16, whose root covers 13');
    t.equal(height, 17);
  },
);

t.test('ADR 0128: a backup expects the citation after twice the quiet period', async (t) => {
  const backup: CitationContext = { ...idle, isPrimary: false };
  const s = new StateCitation({ quietMs: 250, stateRootInterval: 1 });
  s.applied(1, 5, 0, 1000);
  t.equal(s.due(1499, backup), undefined, 'not yet');
  t.equal(
    s.due(1500, { ...backup, pending: 1 }),
    undefined,
    'transactions wait: the request timer covers it',
  );
  t.equal(s.due(1500, { ...backup, executedAll: false }), undefined, 'behind: it cannot tell');
  t.equal(s.due(1500, { ...backup, inFlight: 3 }), 1, 'a stale in-flight count of its own does not matter');
  t.equal(
    s.due(1600, backup),
    1,
    'asked on every tick while owed (its replica may have been in a view change)',
  );
  t.equal(s.expected, 1, 'each `through` counted once');
  t.equal(s.requested, 0);
  s.applied(2, 0, 1, 1700);
  t.equal(s.due(1800, backup), undefined, 'cited: nothing owed');
  const custom = new StateCitation({ quietMs: 100, stateRootInterval: 1, backupQuietMs: 1000 });
  custom.applied(1, 1, 0, 0);
  t.equal(custom.due(999, backup), undefined);
  t.equal(custom.due(1000, backup), 1);
});

t.test('bad options are refused', async (t) => {
  t.throws(() => new StateCitation({ quietMs: 100, stateRootInterval: 1, backupQuietMs: 99 }), RangeError);
  t.throws(() => new StateCitation({ quietMs: -1, stateRootInterval: 1 }), RangeError);
  t.throws(() => new StateCitation({ quietMs: 0, stateRootInterval: 0 }), RangeError);
});
