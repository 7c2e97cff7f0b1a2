// The bench entry point answers --help and mistyped options with its usage instead of a stack trace.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

t.test('--help prints the usage of every benchmark and exits 0', async (t) => {
  const r = run('probe', '--help');
  t.equal(r.status, 0);
  for (const name of ['suite', 'node', 'profile', 'probe', 'render']) t.match(r.stdout, name);
});

t.test('an unknown option or benchmark exits 2 with the usage', async (t) => {
  const bad = run('probe', '--bogus');
  t.equal(bad.status, 2);
  t.match(bad.stderr, /Unknown option '--bogus'/);
  t.match(bad.stderr, /usage: npm run bench/);
  const unknown = run('nope');
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown benchmark 'nope'/);
});

t.test('a bad option value of the suite exits 2 naming what is accepted', async (t) => {
  const r = run('--only', 'real', '--networks', 'n9-nowhere');
  t.equal(r.status, 2);
  t.match(r.stderr, /--networks: n9-nowhere is not a network of the full run \(n4-loopback, n7-loopback, /);
  t.match(r.stderr, /usage: npm run bench/);
  const both = run('--quick', '--extended');
  t.equal(both.status, 2);
  t.match(both.stderr, /give --quick or --extended, not both/);
});
