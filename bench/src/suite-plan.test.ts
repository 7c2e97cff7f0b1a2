import t from 'tap';
import { networkSlug, suitePlan } from './suite-plan.ts';

t.test('the full sweep covers issue #9: sizes, batches, faults, conditions, 3 repeats', async (t) => {
  const p = suitePlan('full', 7);
  t.same(p.sim.sizes, [4, 7, 10, 13, 16]);
  t.same(p.sim.batches, [1, 10, 100, 1000]);
  t.same(p.sim.silent, ['0', '1', 'f']);
  t.ok(p.sim.repeats >= 3 && p.sim.viewChangeRepeats >= 3);
  t.same(
    p.real.map((r) => `${r.n} ${r.condition}`),
    ['4 loopback', '7 loopback', '4 latency 10 ms', '4 latency 50 ms', '4 latency 100 ms', '4 loss 1%'],
  );
  t.same(
    p.real.map((r) => r.faults ?? null),
    [
      null,
      null,
      { latencyMs: 10, jitterMs: 1 },
      { latencyMs: 50, jitterMs: 5 },
      { latencyMs: 100, jitterMs: 10 },
      { loss: 0.01 },
    ],
  );
  for (const r of p.real) {
    t.ok(r.repeats >= 3, `${r.condition}: 3 repeats`);
    t.ok(r.pointRepeats >= 3, `${r.condition}: every knee-search point 3 times`);
    t.equal(r.seed, 7);
  }
  t.equal(p.real[0]!.sustainedS, 60, 'the n=4 loopback target is sustained for 60 s');
  t.ok(p.real[0]!.viewChange && p.real[0]!.sync && p.real[1]!.viewChange);
});

t.test('the quick run is the n=4 loopback subset with every headline measurement', async (t) => {
  const p = suitePlan('quick', 1);
  t.equal(p.mode, 'quick');
  t.same(
    p.real.map((r) => `${r.n} ${r.condition}`),
    ['4 loopback'],
  );
  t.ok(p.real[0]!.viewChange && p.real[0]!.sync);
  t.ok(p.sim.sizes.length < suitePlan('full', 1).sim.sizes.length);
  t.same(suitePlan('quick', 1), suitePlan('quick', 1), 'plain data, deterministic');
});

t.test('the extended run: quick settings on every real network of the full sweep', async (t) => {
  const e = suitePlan('extended', 1);
  const f = suitePlan('full', 1);
  t.same(
    e.real.map((r) => `${r.n} ${r.condition}`),
    f.real.map((r) => `${r.n} ${r.condition}`),
  );
  t.same(e.sim, suitePlan('quick', 1).sim);
  for (const r of e.real)
    t.equal(r.pointS, suitePlan('quick', 1).real[0]!.pointS, `${r.condition}: quick points`);
  t.same(
    e.real.map((r) => r.viewChange),
    [true, true, false, false, false, false],
    'view change and catch-up on the loopback networks only',
  );
});

t.test('every real network of the full sweep has a distinct --networks name', async (t) => {
  const names = suitePlan('full', 1).real.map(networkSlug);
  t.same(names, [
    'n4-loopback',
    'n7-loopback',
    'n4-latency-10-ms',
    'n4-latency-50-ms',
    'n4-latency-100-ms',
    'n4-loss-1',
  ]);
});

t.test('every real network of every mode carries the knee criteria it is judged by', async (t) => {
  // The record stores the plan: a reader must see which p99 bound, loss fraction and sample floor
  // placed the knee without reading the code of the commit.
  for (const mode of ['quick', 'extended', 'full'] as const) {
    for (const r of suitePlan(mode, 1).real) {
      t.same(r.knee, { maxP99Ms: 1_000, maxLostFraction: 0.01, minSamples: 50 }, `${mode} ${r.condition}`);
    }
  }
});
