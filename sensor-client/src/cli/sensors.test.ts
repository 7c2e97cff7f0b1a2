// The simulator CLI's dry run is a pure function of its arguments: same seed, byte-identical output.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const CLI = fileURLToPath(new URL('./sensors.ts', import.meta.url));
const run = (...args: string[]) =>
  execFileSync(process.execPath, [CLI, '--dry-run', ...args], { encoding: 'utf8' });

t.test('same seed => identical readings; another seed differs', async (t) => {
  const args = ['--patients', '4', '--duration', '20', '--rate', '1'];
  const a = run(...args, '--seed', '42');
  const b = run(...args, '--seed', '42');
  const c = run(...args, '--seed', '43');
  t.equal(a, b);
  t.not(a, c);
  t.equal(a.trim().split('\n').length, 1 + 4 * 20, 'header + one line per patient per second');
});

t.test('with every patient deteriorating early, the ward reaches NEWS2 medium/high', async (t) => {
  // Episodes start within the first minute and ramp in over 5 minutes; run 20 simulated minutes.
  const runArgs = ['--episode-from', '0', '--episode-to', '1', '--onset', '5'];
  const out2 = run(
    '--patients',
    '5',
    '--duration',
    '1200',
    '--rate',
    '0.05',
    '--deteriorate',
    '1',
    ...runArgs,
  );
  const bands = out2
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t')[9]);
  const worst = new Set(bands.slice(-5));
  t.ok(
    bands.slice(0, 5).every((b) => b === 'low' || b === 'low-medium'),
    'the ward starts low',
  );
  t.ok(
    [...worst].every((b) => b === 'medium' || b === 'high'),
    `after 20 min: ${[...worst].join(',')}`,
  );
});

t.test('bad arguments exit with status 2', async (t) => {
  try {
    execFileSync(process.execPath, [CLI, '--dry-run', '--patients', '0'], { stdio: 'pipe' });
    t.fail('should have exited non-zero');
  } catch (e) {
    t.equal((e as { status: number }).status, 2);
  }
});
