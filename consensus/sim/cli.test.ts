import t from 'tap';
import { isUsageError, main } from './cli.ts';

function run(args: string[]): { code: number; out: string } {
  const lines: string[] = [];
  const code = main(args, (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

t.test('one run prints a summary; --trace streams deliveries and actions', async (t) => {
  const r = run(['--scenario', 'normal', '--seed', '1']);
  t.equal(r.code, 0);
  t.match(r.out, /normal n=4 seed=1/);
  t.match(r.out, /per block: COMMIT/);
  const tr = run(['--scenario', 'normal', '--seed', '1', '--trace']);
  t.match(tr.out, /deliver 0>1 PRE-PREPARE \d+ v0 h1 /);
  t.match(tr.out, /commit 2 h1 v0 /);
});

t.test('--seeds prints a table and --json a violations total', async (t) => {
  const r = run(['--seeds', '2', '--scenario', 'crash-primary', '--n', '4']);
  t.equal(r.code, 0);
  t.match(r.out, /scenario\s+n\s+runs\s+violations\s+commits\s+view changes/);
  t.match(r.out, /crash-primary\s+4\s+2\s+0/);
  const j = JSON.parse(run(['--seeds', '1', '--scenario', 'normal', '--n', '4', '--json']).out);
  t.equal(j.violations, 0);
  t.equal(j.rows[0].runs, 1);
});

t.test('a failing run exits 1 and prints the one command that reproduces it', async (t) => {
  const r = run(['--seeds', '3', '--scenario', 'equivocating-primary', '--n', '4', '--mutant', 'quorum-2f']);
  t.equal(r.code, 1);
  t.match(
    r.out,
    /reproduce: npm run sim -- --scenario equivocating-primary --n 4 --seed \d+ --mutant quorum-2f --trace/,
  );
});

t.test('usage errors are typed', async (t) => {
  for (const args of [
    ['--scenario', 'nope', '--seed', '1'],
    ['--seed', 'x', '--scenario', 'normal'],
    ['--bogus'],
    [],
  ]) {
    let caught: unknown;
    try {
      run(args);
    } catch (e) {
      caught = e;
    }
    t.ok(isUsageError(caught), `usage error for: ${args.join(' ')}`);
  }
});
