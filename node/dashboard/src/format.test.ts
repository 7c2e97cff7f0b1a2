// Plain-language text: vital values in their physical units, alert causes, audit sentences, and the
// commit-latency totals read from the node's Prometheus text.
import t from 'tap';
import { describeAudit } from './audit-text.ts';
import {
  durationText,
  alertCause,
  bandName,
  news2Display,
  openAlertsHeading,
  raisedText,
  readingAge,
  vital,
} from './format.ts';
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

t.test('NEWS2: a partial, empty or old score never looks like a reassuring low', async (t) => {
  const all = ['respiratoryRate', 'spo2', 'supplementalOxygen', 'systolicBp', 'heartRate', 'consciousness'];
  // What the node answers for a registered patient with no readings at all: total 0, band low.
  const none = news2Display({ total: 0, band: 0, missing: [...all, 'temperature'], oldestAgeMs: 0 });
  t.match(none, { total: '—', band: 'none', label: 'no data' });
  // A wearable alone never reports ACVPU or supplemental oxygen: the score is a lower bound.
  const partial = news2Display({
    total: 2,
    band: 0,
    missing: ['supplementalOxygen', 'consciousness'],
    oldestAgeMs: 30_000,
  });
  t.equal(partial.total, '≥ 2');
  t.equal(partial.band, 'none', 'not the green of a complete low score');
  t.equal(partial.label, 'at least low risk (incomplete)');
  t.match(partial.notes.join(' '), /Missing: supplemental oxygen, consciousness/);
  // A higher band keeps its colour: the risk is at least that.
  t.match(news2Display({ total: 6, band: 2, missing: ['consciousness'], oldestAgeMs: 0 }), {
    total: '≥ 6',
    band: 'medium',
  });
  // Complete and current: as RCP 2017 chart 2 says.
  t.same(news2Display({ total: 3, band: 1, missing: [], oldestAgeMs: 60_000 }), {
    total: '3',
    band: 'lowmedium',
    label: 'low-medium risk',
    notes: ['oldest value 1 min ago.'],
  });
  // Complete but from values hours old (a device that stopped): flagged in words, not painted green.
  const old = news2Display({ total: 0, band: 0, missing: [], oldestAgeMs: 3 * 3_600_000 });
  t.match(old, { total: '0', band: 'none', label: 'low risk (stale)' });
  t.match(old.notes.join(' '), /STALE: oldest value 3 h ago/);
  t.match(news2Display({ total: 1, band: 0, missing: [], oldestAgeMs: 0, spo2Scale2: true }).notes, [
    'SpO₂ scale 2.',
  ]);
});

t.test('a device-reported value that has gone quiet is flagged in words', async (t) => {
  const now = 10_000_000;
  t.same(readingAge(1, now - 30_000, now), { text: '30 s ago', stale: false });
  t.same(readingAge(1, now - 12 * 60_000, now), { text: 'STALE: 12 min ago', stale: true });
  // ACVPU is charted by a nurse, not streamed: its age is shown but not flagged.
  t.same(readingAge(8, now - 12 * 60_000, now), { text: '12 min ago', stale: false });
});

t.test('open alerts: never a wrong count, never a bare time of day from another day', async (t) => {
  t.equal(openAlertsHeading(3), 'Open alerts (3)');
  t.equal(openAlertsHeading(50), 'Open alerts (50)');
  // The panel asks for 51: a 51st means more are open than are listed.
  t.match(openAlertsHeading(51), /more than 50, the newest 50 shown/);
  const now = new Date(2025, 0, 15, 12, 0, 0).getTime();
  const today = raisedText(now - 5 * 60_000, now);
  t.match(today, /^raised [^(]*\d\d:\d\d[^(]* \(5 min ago\)$/, 'today: the time and the age');
  const twoDays = raisedText(now - 2 * 86_400_000, now);
  t.match(twoDays, /2025/, 'another day: with its date');
  t.match(twoDays, /\(2 d ago\)$/);
});

t.test('the idle sign-out in words, for the notice after it', async (t) => {
  t.equal(durationText(15 * 60_000), '15 minutes');
  t.equal(durationText(60_000), '1 minute');
  t.equal(durationText(4_000), '4 seconds');
  t.equal(durationText(3_600_000), '1 hour');
  t.equal(durationText(90 * 60_000), '1 hour 30 minutes');
  t.equal(durationText(12 * 3_600_000), '12 hours');
});
