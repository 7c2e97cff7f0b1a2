import t from 'tap';
import { Prng } from './prng.ts';

t.test('xoshiro128** matches the reference output for state (1, 2, 3, 4)', async (t) => {
  // Reference values computed with the published C algorithm (Blackman & Vigna) from that state.
  const p = Prng.fromState(1, 2, 3, 4);
  t.same(
    Array.from({ length: 6 }, () => p.nextU32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
});

t.test('same seed, same stream; different seeds, different streams', async (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 50 }, () => a.nextU32());
  t.same(
    sa,
    Array.from({ length: 50 }, () => b.nextU32()),
  );
  t.not(JSON.stringify(sa), JSON.stringify(Array.from({ length: 50 }, () => c.nextU32())));
  // Seeds above 2^32 use their high half too.
  t.not(new Prng(2 ** 40 + 7).nextU32(), new Prng(7).nextU32());
});

t.test('int is in range and roughly uniform; float in [0,1)', async (t) => {
  const p = new Prng(7);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[p.int(6)]++;
  for (const c of counts) t.ok(c > 9_000 && c < 11_000, `bucket ${c} near 10000`);
  for (let i = 0; i < 10_000; i++) {
    const f = p.float();
    if (!(f >= 0 && f < 1)) t.fail(`float out of range: ${f}`);
  }
  t.throws(() => p.int(0), RangeError);
  t.throws(() => p.int(1.5), RangeError);
});

t.test('chance(0) draws nothing, so zero-probability faults do not shift the stream', async (t) => {
  const a = new Prng(9);
  const b = new Prng(9);
  t.equal(a.chance(0), false);
  t.equal(a.chance(1), true);
  t.equal(a.nextU32(), b.nextU32());
});

t.test('shuffled is a permutation; fork is deterministic and independent of the parent', async (t) => {
  const p = new Prng(3);
  const s = p.shuffled([1, 2, 3, 4, 5, 6, 7]);
  t.same([...s].sort(), [1, 2, 3, 4, 5, 6, 7]);
  const f1 = new Prng(3).fork();
  const f2 = new Prng(3).fork();
  t.equal(f1.nextU32(), f2.nextU32());
  t.not(new Prng(3).fork().nextU32(), new Prng(3).nextU32());
});
