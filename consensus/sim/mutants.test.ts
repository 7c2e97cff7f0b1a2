// "The checker can fail": replicas deliberately broken in two ways PBFT's safety proof depends on must
// make the simulator report a fork for some seed in a small range. If these ever stop finding one, the
// checker (or the scenarios) went blind.
import t from 'tap';
import { buildScenario, type MutantName } from './scenarios.ts';
import { runScenario } from './simulator.ts';

function findAgreementViolation(mutant: MutantName, scenario: string, seeds: number): number | undefined {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = runScenario(buildScenario(scenario, 4, seed, { mutant }), seed, { stopOnViolation: false });
    if (r.violations.some((v) => v.kind === 'agreement')) return seed;
  }
  return undefined;
}

t.test('a quorum of 2f lets an equivocating primary fork the chain', async (t) => {
  const seed = findAgreementViolation('quorum-2f', 'equivocating-primary', 5);
  t.ok(seed !== undefined, `agreement violation found (seed ${seed})`);
  const spec = buildScenario('equivocating-primary', 4, seed ?? 1, { mutant: 'quorum-2f' });
  const r = runScenario(spec, seed ?? 1);
  t.match(r.reproduce, /--mutant quorum-2f/, 'the reproduce command carries the mutant');
});

t.test('accepting a NEW-VIEW without the prepared certificates loses committed blocks', async (t) => {
  // The schedule the rule exists for: one replica committed what the others only prepared, then it
  // crashed; the block survives only through the prepared certificates a lax NEW-VIEW ignores.
  const seed = findAgreementViolation('new-view-without-proof', 'lone-commit-primary-crash', 20);
  t.ok(seed !== undefined, `agreement violation found (seed ${seed})`);
});

t.test('the same seeds without the mutation are safe', async (t) => {
  for (let seed = 1; seed <= 5; seed++) {
    const r = runScenario(buildScenario('equivocating-primary', 4, seed), seed);
    t.notOk(
      r.violations.some((v) => v.kind === 'agreement' || v.kind === 'certificate'),
      `seed ${seed}: no fork`,
    );
  }
});

t.test('replicas that ignore a validator-set change certify new-epoch blocks with the old set', async (t) => {
  let caught: number | undefined;
  for (let seed = 1; seed <= 5 && caught === undefined; seed++) {
    const spec = buildScenario('reconfiguration', 4, seed, { mutant: 'ignore-reconfiguration' });
    const r = runScenario(spec, seed, { stopOnViolation: false });
    if (r.violations.some((v) => v.kind === 'certificate')) caught = seed;
  }
  t.ok(caught !== undefined, `certificate violation found (seed ${caught})`);
  const r = runScenario(buildScenario('reconfiguration', 4, 1), 1);
  t.same(r.violations, [], 'the same scenario without the mutation has no violation');
  t.equal(r.epochs, 2, 'and both changes took effect');
});
