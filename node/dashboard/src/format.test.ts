// Plain-language text: vital values in their physical units, alert causes, audit sentences, and the
// commit-latency totals read from the node's Prometheus text.
import t from 'tap';
import { describeAudit } from './audit-text.ts';
import { alertCause, bandName, vital } from './format.ts';
import { commitLatencyTotals } from './metrics-text.ts';
import { GAP_MS, withGaps } from './series.ts';

t.test('vital signs in physical units', async (t) => {
  t.equal(vital(1, 72), '72 /min');
  t.equal(vital(5, 368), '36.8 °C', 'temperature travels ×10');
  t.equal(vital(3, 124), '124 mmHg');
  t.equal(vital(7, 1), 'on oxygen');
  t.equal(vital(8, 2), 'Voice');
  t.equal(vital(99, 5), '5', 'an unknown kind is shown raw');
});

t.test('alert causes', async (t) => {
  t.equal(alertCause('threshold.high.heartRate', 1), 'Heart rate above its threshold');
  t.equal(alertCause('threshold.low.spo2', 2), 'SpO₂ below its threshold');
  t.equal(alertCause('news2', null, 3), 'NEWS2 risk rose to high');
  t.equal(bandName(1), 'low-medium');
  t.equal(alertCause('something.new'), 'something.new');
});

t.test('audit entries as sentences', async (t) => {
  const me = 'aa'.repeat(32);
  const other = 'bb'.repeat(32);
  const base = { height: 3, position: 0, at: 1, txId: '00'.repeat(32), detail: null };
  t.equal(
    describeAudit({ ...base, event: 'read', actor: other, categories: ['vitals.heartRate'], purpose: 3 }, me),
    'bbbbbbbb…bbbb looked at heart rate for emergency.',
  );
  t.equal(
    describeAudit({ ...base, event: 'emergencyOpened', actor: other, categories: [], purpose: 3 }, me),
    'bbbbbbbb…bbbb opened EMERGENCY (break-glass) access to your record.',
  );
  t.equal(
    describeAudit({ ...base, event: 'grant', actor: me, categories: ['vitals.*'], purpose: 1 }, me),
    'You granted access to all vital signs for treatment.',
  );
});

t.test('commit latency from Prometheus text', async (t) => {
  const text = [
    '# TYPE vigil_commit_latency_seconds histogram',
    'vigil_commit_latency_seconds_bucket{le="0.1"} 3',
    'vigil_commit_latency_seconds_sum 0.42',
    'vigil_commit_latency_seconds_count 7',
  ].join('\n');
  t.same(commitLatencyTotals(text), { sum: 0.42, count: 7 });
  t.equal(commitLatencyTotals('vigil_height 3'), undefined);
});

t.test('chart lines break across gaps in the readings', async (t) => {
  const [xs, ys] = withGaps([0, 1_000, 1_000 + GAP_MS + 1, 2_000 + GAP_MS], [1, 2, 3, 4]);
  t.same(ys, [1, 2, null, 3, 4]);
  t.same(xs, [0, 1, 1.001, (1_001 + GAP_MS) / 1000, (2_000 + GAP_MS) / 1000]);
  t.same(withGaps([], []), [[], []]);
});
