// CI-sized fuzzing of every decoder that reads hostile bytes (a few thousand cases each; set
// VIGIL_FUZZ_RUNS to change it). Targets whose decoder already has a CI property test elsewhere are
// skipped here unless VIGIL_FUZZ_ALL=1; `npm run fuzz` (the long run) covers all of them.
import fc from 'fast-check';
import t from 'tap';
import { allTargets } from './all-targets.ts';
import { FuzzFinding, runTarget, typed } from './harness.ts';
import { formatReport } from './run-all.ts';

const runs = Number(process.env.VIGIL_FUZZ_RUNS ?? 2_000);
const all = process.env.VIGIL_FUZZ_ALL === '1';

t.test('the harness tells typed rejections from findings', async (t) => {
  class Typed extends Error {
    readonly code = 'X_TYPED';
  }
  t.equal(
    typed(() => {
      throw new Typed('no');
    }, Typed),
    'X_TYPED',
  );
  t.equal(
    typed(() => 1, Typed),
    'accepted',
  );
  t.throws(
    () =>
      typed(() => {
        throw new TypeError('boom');
      }, Typed),
    FuzzFinding,
    'an untyped exception is a finding',
  );
  const r = await runTarget(
    {
      name: 'broken',
      arbitrary: fc.integer({ min: 0, max: 100 }),
      run: (n) =>
        typed(() => {
          if (n > 50) throw new RangeError('a decoder bug');
        }, Typed),
    },
    { runs: 200, seed: 7 },
  );
  t.ok(r.failure?.includes('a decoder bug'), 'a failing target is reported with its error');
  t.match(r.failure, /counterexample: \[51\]/, 'and the shrunk counterexample');
});

t.test('every decoder target: only typed errors, no crash, no hang', async (t) => {
  const suite = await allTargets();
  t.teardown(() => suite.close());
  for (const target of suite.targets) {
    if (target.ciElsewhere !== undefined && !all) {
      t.comment(`${target.name}: CI coverage in ${target.ciElsewhere}`);
      continue;
    }
    const r = await runTarget(target, {
      runs: Math.max(50, Math.round(runs * (target.weight ?? 1))),
      seed: 20261122,
    });
    t.equal(r.failure, undefined, formatReport(r));
    const typedCodes = Object.keys(r.outcomes).filter((c) => !c.startsWith('accepted'));
    t.ok(
      typedCodes.length > 0,
      `${target.name}: hostile inputs were refused with typed codes (${typedCodes.join(', ')})`,
    );
  }
});
