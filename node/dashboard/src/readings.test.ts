// Readings for a chart window: the API pages oldest first, so a window with more readings than the
// dashboard draws must be read from its newest end, or the "latest" value and the last stretch of the
// chart would be hours old while looking current.
import t from 'tap';
import { MAX_READINGS, PAGE_LIMIT, type PageFetch, type Reading, windowReadings } from './readings.ts';

/** The node's readings route over an in-memory series: [from, to), oldest first, index cursors. */
function fakeRoute(series: Reading[]) {
  const calls: { from: number; to: number }[] = [];
  const fetchPage: PageFetch = async (from, to, cursor) => {
    calls.push({ from, to });
    const inRange = series.filter((r) => r.measuredAt >= from && r.measuredAt < to);
    const start = cursor ? Number(cursor) : 0;
    const items = inRange.slice(start, start + PAGE_LIMIT);
    const end = start + items.length;
    return { items, next: end < inRange.length ? String(end) : null };
  };
  return { fetchPage, calls };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const every = (ms: number, from: number, to: number): Reading[] => {
  const out: Reading[] = [];
  for (let at = from; at < to; at += ms) out.push({ kind: 1, value: 60 + (out.length % 40), measuredAt: at });
  return out;
};

t.test('a busy window: the newest readings, contiguous, within the budget', async (t) => {
  const to = 10 * DAY;
  const from = to - DAY;
  // The devnet's default rate (one set every 5 s): 17,280 readings in a day.
  const series = every(5_000, from - HOUR, to);
  const newest = series.at(-1)!;
  const { fetchPage } = fakeRoute(series);
  const r = await windowReadings(fetchPage, from, to);
  t.equal(r.items.at(-1)?.measuredAt, newest.measuredAt, 'the latest value is the latest reading');
  t.ok(r.truncated, 'says that it does not cover the whole window');
  t.ok(r.items.length <= MAX_READINGS && r.items.length > MAX_READINGS / 4, `${r.items.length} readings`);
  t.ok(r.since > from && r.since <= r.items[0]!.measuredAt, 'since: where the drawn stretch starts');
  // Contiguous: every reading between `since` and `to` is there, in order, once.
  const expected = series.filter((x) => x.measuredAt >= r.since && x.measuredAt < to);
  t.same(
    r.items.map((x) => x.measuredAt),
    expected.map((x) => x.measuredAt),
  );
});

t.test('a quiet window is read whole in one request', async (t) => {
  const to = 10 * DAY;
  const from = to - HOUR;
  const series = every(5_000, from - HOUR, to);
  const { fetchPage, calls } = fakeRoute(series);
  const r = await windowReadings(fetchPage, from, to);
  t.equal(calls.length, 1);
  t.notOk(r.truncated);
  t.equal(r.since, from);
  t.same(
    r.items.map((x) => x.measuredAt),
    series.filter((x) => x.measuredAt >= from).map((x) => x.measuredAt),
  );
});

t.test('no readings in the window', async (t) => {
  const { fetchPage } = fakeRoute(every(5_000, 0, HOUR));
  const r = await windowReadings(fetchPage, DAY, 2 * DAY);
  t.same(r, { items: [], since: DAY, truncated: false });
});

t.test('a burst denser than the budget in its newest minute still shows the newest readings', async (t) => {
  const to = 10 * DAY;
  const from = to - HOUR;
  // 100 readings a second for the last 2 min: 12,000, more than the budget in any slice of a minute.
  const series = [...every(5_000, from, to - 120_000), ...every(10, to - 120_000, to)];
  const { fetchPage } = fakeRoute(series);
  const r = await windowReadings(fetchPage, from, to);
  t.equal(r.items.at(-1)?.measuredAt, series.at(-1)!.measuredAt);
  t.ok(r.items.length <= MAX_READINGS);
  t.ok(r.truncated);
});
