import t from 'tap';
import { percentileSorted, summarize } from './stats.ts';

t.test('nearest-rank percentiles on 1..1000', async (t) => {
  const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i); // unsorted input
  const s = summarize(xs);
  t.same(
    { count: s.count, min: s.min, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max },
    { count: 1000, min: 1, p50: 500, p90: 900, p99: 990, p999: 999, max: 1000 },
  );
  t.equal(s.mean, 500.5);
});

t.test('small samples return observed values, never interpolations', async (t) => {
  t.equal(percentileSorted([10], 50), 10);
  t.equal(percentileSorted([10], 99.9), 10);
  t.equal(percentileSorted([10, 20], 50), 10);
  t.equal(percentileSorted([10, 20], 50.1), 20);
  t.equal(percentileSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 90), 9);
  t.equal(percentileSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 91), 100);
  const s = summarize([3.5, 1.25, 2]);
  t.equal(s.p50, 2);
  t.equal(s.max, 3.5);
  t.equal(s.min, 1.25);
});

t.test('empty input and out-of-range p', async (t) => {
  const s = summarize([]);
  t.equal(s.count, 0);
  t.ok(Number.isNaN(s.p99));
  t.throws(() => percentileSorted([1], 0), RangeError);
  t.throws(() => percentileSorted([1], 101), RangeError);
});

t.test('p99.9 picks out a single outlier in 1000 but not in 999', async (t) => {
  const a = Array.from({ length: 999 }, () => 5).concat([500]);
  t.equal(summarize(a).p999, 5);
  t.equal(summarize(a).max, 500);
  const b = Array.from({ length: 998 }, () => 5).concat([500, 500]);
  t.equal(summarize(b).p999, 500);
});

t.test('transactions that never committed rank above every sample, so they cannot flatter p99', async (t) => {
  // 1,000 measured transactions: 991 committed at 1..991 ms and 9 lost (0.9 %, under the knee's 1 %).
  const committed = Array.from({ length: 991 }, (_, i) => i + 1);
  const s = summarize(committed, 9);
  t.equal(s.count, 991);
  t.equal(s.missing, 9);
  t.equal(s.p99, 990, 'rank 990 of all 1,000, not of the 991 survivors (which would be 982)');
  t.equal(s.p999, Number.POSITIVE_INFINITY, 'p99.9 falls on a lost transaction');
  t.equal(s.max, Number.POSITIVE_INFINITY);
  t.equal(s.min, 1);
  t.equal(s.mean, 496, 'the mean is over committed samples only');
  // More than 1 % lost: p99 itself is unbounded.
  t.equal(
    summarize(
      Array.from({ length: 980 }, () => 5),
      20,
    ).p99,
    Number.POSITIVE_INFINITY,
  );
  // Everything lost: no sample, every percentile unbounded.
  const none = summarize([], 4);
  t.equal(none.count, 0);
  t.equal(none.p50, Number.POSITIVE_INFINITY);
  t.ok(Number.isNaN(none.min));
  t.throws(() => summarize([1], -1), RangeError);
});
