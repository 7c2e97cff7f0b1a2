// The bench entry point answers --help and mistyped options with its usage instead of a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

t.test('--help prints the usage of every benchmark and exits 0', async (t) => {
  const r = run('probe', '--help');
  t.equal(r.status, 0);
  for (const name of ['suite', 'node', 'profile', 'probe', 'replay', 'render', 'cpu-windows'])
    t.match(r.stdout, name);
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

t.test('cpu-windows prints each time span of a profile with its top areas', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cpu-windows-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'x.cpuprofile');
  const frame = (id: number, functionName: string, url: string) => ({
    id,
    callFrame: { functionName, url, lineNumber: 0 },
  });
  writeFileSync(
    file,
    JSON.stringify({
      nodes: [frame(1, '(idle)', ''), frame(2, 'update', 'file:///w/node/src/state-tree/tree.ts')],
      samples: [1, 1, 1, 2, 2, 2],
      timeDeltas: [0, 1000, 1000, 1000, 1000, 1000],
    }),
  );
  const r = run('cpu-windows', file, '--windows', '2');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /0\.0-0\.0 s: 3 samples,\s+0\.0 % busy/);
  t.match(r.stdout, /3 samples,\s+100\.0 % busy\n\s+100\.0 %\s+node\/state-tree/);
  const bad = run('cpu-windows', join(dir, 'missing.cpuprofile'));
  t.equal(bad.status, 2);
  t.match(bad.stderr, /not a readable CPU profile/);
});
