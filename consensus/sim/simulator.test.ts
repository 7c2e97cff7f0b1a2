import t from 'tap';
import { buildScenario } from './scenarios.ts';
import { runScenario } from './simulator.ts';

t.test('determinism: the same (scenario, seed) gives the identical trace twice', async (t) => {
  for (const name of ['lossy', 'twins', 'crash-backup']) {
    const a = runScenario(buildScenario(name, 4, 11), 11, { trace: true });
    const b = runScenario(buildScenario(name, 4, 11), 11);
    t.equal(a.traceHash, b.traceHash, `${name}: same trace hash`);
    t.same(a.commitLatencies, b.commitLatencies, `${name}: same latencies`);
    t.ok(a.trace!.length > 100, `${name}: a real trace (${a.trace!.length} lines)`);
    const c = runScenario(buildScenario(name, 4, 12), 12);
    t.not(c.traceHash, a.traceHash, `${name}: another seed, another schedule`);
  }
});

t.test(
  'a fault-free run commits every transaction with valid certificates and reports metrics',
  async (t) => {
    const spec = buildScenario('normal', 4, 1);
    const r = runScenario(spec, 1);
    t.same(r.violations, []);
    t.equal(r.txsSubmitted, spec.workload.txCount);
    t.equal(r.txsCommitted, spec.workload.txCount);
    t.ok(r.commits > 0);
    t.equal(r.viewChanges, 0);
    t.equal(r.commitLatencies.length, spec.workload.txCount);
    for (const l of r.commitLatencies) t.ok(l > 0 && l < 200, `latency ${l.toFixed(1)}ms`);
    // Normal case: one PRE-PREPARE to n-1 backups, PREPAREs and COMMITs all-to-all, per block.
    t.equal(r.perBlock['PRE-PREPARE']!.count, 3);
    t.equal(r.perBlock['COMMIT']!.count, 12);
    t.ok(r.perBlock['PREPARE']!.bytes > 0);
    t.match(r.reproduce, /^npm run sim -- --scenario normal --n 4 --seed 1/);
  },
);

t.test('a crashed backup restarts from its records and the cluster stays safe and live', async (t) => {
  for (const seed of [1, 2, 3]) {
    const spec = buildScenario('crash-backup', 4, seed);
    const r = runScenario(spec, seed, { trace: true });
    t.same(r.violations, [], `seed ${seed}`);
    t.ok(
      r.trace!.some((l) => l.includes(`restart ${spec.crashes[0]!.replica}`)),
      'the restart happened',
    );
  }
});

t.test('a primary crash leads to a view change whose duration is measured', async (t) => {
  const r = runScenario(buildScenario('crash-primary', 4, 2), 2);
  t.same(r.violations, []);
  t.ok(r.viewChanges >= 1);
  t.ok(r.viewChangeDurations.length >= 1);
  for (const d of r.viewChangeDurations) t.ok(d > 0);
});

t.test('modelled CPU time per signature is charged to the replicas', async (t) => {
  const fast = runScenario(buildScenario('normal', 4, 3), 3);
  const slow = runScenario(buildScenario('normal', 4, 3, { cpu: { signMs: 0.5, verifyMs: 2 } }), 3);
  t.same(slow.violations, []);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Each block needs several sequential verifies per replica: latency must grow by several ms.
  t.ok(mean(slow.commitLatencies) > mean(fast.commitLatencies) + 4, 'commit latency includes crypto time');
  t.match(slow.reproduce, /--cpu 0.5,2/);
});

t.test('real ed25519 works end to end (small workload)', async (t) => {
  const spec = { ...buildScenario('normal', 4, 5, { realCrypto: true }) };
  spec.workload = { ...spec.workload, txCount: 2 };
  const r = runScenario(spec, 5);
  t.same(r.violations, []);
  t.equal(r.txsCommitted, 2);
});

t.test('unknown scenarios and bad sizes are typed errors', async (t) => {
  t.throws(() => buildScenario('no-such', 4, 1), { code: 'UNKNOWN_SCENARIO' });
  t.throws(() => buildScenario('normal', 3, 1), RangeError);
});

t.test(
  'ADR 0125: between bursts, idle primaries cite the quiet state, through a primary crash',
  async (t) => {
    for (const n of [4, 7]) {
      for (const seed of [1, 2, 3, 4, 5]) {
        const r = runScenario(buildScenario('quiet-gaps', n, seed), seed);
        t.same(r.violations, [], `n=${n} seed ${seed}: safe and live`);
        t.ok(
          r.stateCitations >= 3,
          `n=${n} seed ${seed}: a citation in most quiet gaps (${r.stateCitations})`,
        );
        t.ok(r.quietStateCited, `n=${n} seed ${seed}: the last transactions' state is cited at the end`);
      }
    }
    // Without quiet gaps the workload ends once: one citation, at the end.
    const normal = runScenario(buildScenario('normal', 4, 1), 1);
    t.ok(normal.quietStateCited);
  },
);
