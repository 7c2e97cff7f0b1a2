// The simulator CLI: its dry run is a pure function of its arguments (same seed, byte-identical output),
// and a live ward takes its trust anchor, outcome proofs included, from --genesis.
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

t.test('--genesis of a chain keeping receipts roots: the ward demands outcome proofs', async (t) => {
  const { promisify } = await import('node:util');
  const { execFile } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { signerFromSeed } = await import('@vigil/consensus/wire');
  const { FakeLedger, FakeNode } = await import('../testing/fake-node.ts');
  const { tempDir } = await import('../testing/helpers.ts');
  const { toHex } = await import('../util/hex.ts');
  const validators = [1, 2, 3, 4].map((i) => signerFromSeed(new Uint8Array(32).fill(i)));
  const ledger = new FakeLedger('vigil-cli-test');
  ledger.certifyWith(validators);
  ledger.keepReceipts = true;
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  const dir = tempDir(t);
  const genesis = join(dir, 'genesis.json');
  writeFileSync(
    genesis,
    JSON.stringify({
      chainId: ledger.chainId,
      validators: validators.map((v, i) => ({ name: `v${i}`, orgId: 'o', publicKey: toHex(v.publicKey) })),
      consensus: { receiptsRoots: true },
    }),
  );
  // Asynchronously: the fake node answers from this process's event loop.
  const { stdout } = await promisify(execFile)(process.execPath, [
    CLI,
    ...['--patients', '1', '--rate', '1', '--duration', '1', '--nodes', node.url],
    ...['--genesis', genesis, '--dataDir', join(dir, 'ward')],
  ]);
  t.match(stdout, /commits and outcomes proven/, 'turned on from the genesis');
  t.ok(node.proofRequests.length > 0, 'proofs were asked for');
  t.match(stdout, /done: queued (\d+), delivered \1, still queued on disk 0/, 'and every reading delivered');
});
