import t from 'tap';
import {
  findKnee,
  keepsUp,
  type LoadPoint,
  nextOfferedLoad,
  percentile,
  pointKeepsUp,
  spread,
} from './stats.ts';

const pt = (offered: number, p99: number, lost = 0, measured = 1000): LoadPoint => ({
  offeredTxPerSec: offered,
  committedTxPerSec: offered * 0.8,
  p99LatencyMs: p99,
  notCommitted: lost,
  measured,
});

t.test('spread: min, median (odd and even counts), max; NaN ignored, +Infinity the largest', async (t) => {
  t.same(spread([3, 1, 2]), { min: 1, median: 2, max: 3, n: 3 });
  t.same(spread([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4, n: 4 });
  t.same(spread([5, Number.NaN, Number.NEGATIVE_INFINITY]), { min: 5, median: 5, max: 5, n: 1 });
  // Three repeats, one with an unbounded p99 (it lost transactions): the median is the middle run.
  t.same(spread([300, Number.POSITIVE_INFINITY, 400]), {
    min: 300,
    median: 400,
    max: Number.POSITIVE_INFINITY,
    n: 3,
  });
  const empty = spread([]);
  t.equal(empty.n, 0);
  t.ok(Number.isNaN(empty.median));
});

t.test('percentile is nearest-rank: always an observed sample', async (t) => {
  const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1..1000, unsorted
  t.equal(percentile(xs, 50), 500);
  t.equal(percentile(xs, 99), 990);
  t.equal(percentile(xs, 99.9), 999, 'p99.9 of 1000 samples is not the maximum');
  t.equal(percentile(xs, 100), 1000);
  t.equal(percentile([7], 1), 7);
  t.ok(Number.isNaN(percentile([], 50)));
  t.throws(() => percentile(xs, 0), RangeError);
  t.throws(() => percentile(xs, 101), RangeError);
});

t.test('keepsUp: bounded p99 and at most 1% lost', async (t) => {
  t.ok(keepsUp(pt(100, 900)));
  t.notOk(keepsUp(pt(100, 1001)), 'p99 above 1 s');
  t.notOk(keepsUp(pt(100, Number.NaN)), 'no latency samples at all');
  t.ok(keepsUp(pt(100, 500, 10)), 'exactly 1% lost is tolerated');
  t.notOk(keepsUp(pt(100, 500, 11)), 'more than 1% lost');
  t.notOk(keepsUp(pt(100, 500, 0, 0)), 'nothing measured');
  t.ok(
    keepsUp(pt(100, 1900), { maxP99Ms: 2000, maxLostFraction: 0, minSamples: 1 }),
    'criteria are parameters',
  );
  t.notOk(keepsUp(pt(3, 100, 0, 16)), 'too few measured transactions to judge a p99');
  t.ok(keepsUp(pt(10, 100, 0, 50)), 'fifty are enough');
});

t.test('findKnee: the last good point before the first bad one, whatever the input order', async (t) => {
  const k = findKnee([pt(400, 3000), pt(100, 200), pt(800, 200), pt(200, 300)]);
  t.equal(k.kneeTxPerSec, 200);
  t.equal(k.saturatedAtTxPerSec, 400);
  t.equal(k.maxCommittedTxPerSec, 640, 'a lucky point after saturation still counts as observed capacity');
  const none = findKnee([pt(100, 5000)]);
  t.equal(none.kneeTxPerSec, undefined);
  t.equal(none.saturatedAtTxPerSec, 100);
  const unsaturated = findKnee([pt(100, 10), pt(200, 10)]);
  t.equal(unsaturated.kneeTxPerSec, 200);
  t.equal(unsaturated.saturatedAtTxPerSec, undefined);
  t.same(findKnee([]), { kneeTxPerSec: undefined, saturatedAtTxPerSec: undefined, maxCommittedTxPerSec: 0 });
});

t.test('a repeated point keeps up when most of its runs do', async (t) => {
  const repeated = (offered: number, ...p99s: number[]): LoadPoint => ({
    ...pt(offered, p99s[0]!),
    runs: { others: p99s.slice(1).map((p99) => pt(offered, p99)) },
  });
  t.ok(pointKeepsUp(repeated(800, 809, 1281, 600)), '2 of 3');
  t.notOk(
    pointKeepsUp(repeated(800, 809, 1281, 1990)),
    '1 of 3: the point shown (809) does not decide alone',
  );
  t.ok(pointKeepsUp(repeated(800, 1281, 809, 700)), 'nor does an unlucky one');
  t.notOk(pointKeepsUp(repeated(800, 900, 1100)), '1 of 2 is not a majority');
  t.ok(pointKeepsUp(pt(800, 900)), 'a single run decides alone');
  t.ok(pointKeepsUp(repeated(800, 900)), 'a repeated point with no other runs is its own run');
  // The knee of a sweep whose 800 tx/s point kept up in one run of three (the full sweep at 8efe588):
  const k = findKnee([
    repeated(400, 230, 207, 369),
    repeated(800, 809, 1281, 1990),
    repeated(900, 2716, 1326, 2724),
  ]);
  t.equal(k.kneeTxPerSec, 400);
  t.equal(k.saturatedAtTxPerSec, 800);
});

t.test('nextOfferedLoad: doubles, then bisects to the resolution, and stops', async (t) => {
  t.equal(nextOfferedLoad([], 100, 0.1, 10_000), 100);
  t.equal(nextOfferedLoad([pt(100, 10)], 100, 0.1, 10_000), 200);
  t.equal(nextOfferedLoad([pt(100, 10), pt(200, 10)], 100, 0.1, 300), undefined, 'cap reached');
  t.equal(nextOfferedLoad([pt(100, 10), pt(200, 5000)], 100, 0.1, 10_000), 150);
  t.equal(nextOfferedLoad([pt(100, 10), pt(200, 5000), pt(150, 10)], 100, 0.1, 10_000), 175);
  t.equal(nextOfferedLoad([pt(100, 10), pt(110, 5000)], 100, 0.15, 10_000), undefined, 'within resolution');
  t.equal(nextOfferedLoad([pt(100, 5000)], 100, 0.1, 10_000), 50, 'first point failed: go lower');
  t.equal(
    nextOfferedLoad([pt(100, 5000), pt(50, 5000), pt(25, 5000), pt(13, 5000)], 100, 0.1, 10_000),
    undefined,
  );
  // A simulated system with a hard capacity of 730 tx/s: the search converges on it from below.
  const system = (rate: number) => pt(rate, rate <= 730 ? 100 : 5000);
  const points: LoadPoint[] = [];
  for (let i = 0; i < 20; i++) {
    const r = nextOfferedLoad(points, 100, 0.05, 100_000);
    if (r === undefined) break;
    points.push(system(r));
  }
  const k = findKnee(points);
  t.ok(k.kneeTxPerSec! <= 730 && k.kneeTxPerSec! >= 730 / 1.05, `knee ${k.kneeTxPerSec} within 5% below 730`);
  t.ok(k.saturatedAtTxPerSec! > 730);
});
