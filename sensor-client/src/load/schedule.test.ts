import t from 'tap';
import { buildSchedule, type Clock, runOpenLoop, totalTransactions, validateSchedule } from './schedule.ts';

t.test('schedule offers exactly rate x duration transactions at evenly spaced intended times', async (t) => {
  const c = { rate: 3000, batchSize: 50, durationMs: 10_000, warmupMs: 2_000 };
  const s = buildSchedule(c);
  t.equal(totalTransactions(c), 30_000);
  t.equal(
    s.reduce((n, b) => n + b.count, 0),
    30_000,
  );
  t.equal(s.length, 600);
  // Batch k is due at k * batchSize / rate seconds: 50 / 3000 s = 16.67 ms apart.
  t.equal(s[0]!.atMs, 0);
  t.ok(Math.abs(s[1]!.atMs - 16.6667) < 0.001);
  t.ok(Math.abs(s[599]!.atMs - 9983.333) < 0.001);
  // Consecutive batches cover consecutive corpus indices with no gaps or overlaps.
  for (let i = 1; i < s.length; i++) t.equal(s[i]!.firstTx, s[i - 1]!.firstTx + s[i - 1]!.count);
  // Warm-up: the first 2 s (120 batches) are not measured, all the rest are.
  t.equal(s.filter((b) => !b.measured).length, 120);
  t.ok(s.slice(120).every((b) => b.measured));
});

t.test('a short last batch', async (t) => {
  const s = buildSchedule({ rate: 10, batchSize: 4, durationMs: 1000, warmupMs: 0 });
  t.same(
    s.map((b) => [b.atMs, b.firstTx, b.count]),
    [
      [0, 0, 4],
      [400, 4, 4],
      [800, 8, 2],
    ],
  );
});

t.test('invalid configurations are refused', async (t) => {
  t.throws(() => validateSchedule({ rate: 0, batchSize: 1, durationMs: 1, warmupMs: 0 }), RangeError);
  t.throws(() => validateSchedule({ rate: 1, batchSize: 0, durationMs: 1, warmupMs: 0 }), RangeError);
  t.throws(() => validateSchedule({ rate: 1, batchSize: 1, durationMs: 1000, warmupMs: 1000 }), RangeError);
});

/** A virtual clock: sleep advances time instantly, so the test checks behaviour, not timing. */
function virtualClock(): Clock & { t: number } {
  const c = {
    t: 1_000_000,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

t.test('open loop: sends are dispatched at intended times even when replies never come', async (t) => {
  const clock = virtualClock();
  const schedule = buildSchedule({ rate: 100, batchSize: 10, durationMs: 1000, warmupMs: 0 });
  const intended: number[] = [];
  const never = new Promise<void>(() => {});
  const { dispatchLagMs, inFlight } = await runOpenLoop(schedule, clock, (_b, at) => {
    intended.push(at - 1_000_000);
    return never; // a system that never answers must not stop the generator (closed loop would stall)
  });
  t.same(intended, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  t.equal(inFlight.length, 10);
  t.ok(dispatchLagMs.every((l) => l === 0));
});

t.test('open loop: when the generator falls behind, the lag is reported, not hidden', async (t) => {
  const clock = virtualClock();
  const schedule = buildSchedule({ rate: 100, batchSize: 10, durationMs: 500, warmupMs: 0 });
  const intended: number[] = [];
  const { dispatchLagMs } = await runOpenLoop(schedule, clock, async (_b, at) => {
    intended.push(at - 1_000_000);
    clock.t += 150; // sending one batch synchronously costs 150 ms of generator time
  });
  // Intended times stay on the grid; the measured lag grows by 50 ms per batch.
  t.same(intended, [0, 100, 200, 300, 400]);
  t.same(dispatchLagMs, [0, 50, 100, 150, 200]);
});
