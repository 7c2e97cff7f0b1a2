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
  t.match(
    stdout,
    /done: queued (\d+), delivered \1, dead-lettered 0, still queued on disk 0/,
    'and every reading delivered',
  );
});

t.test(
  'a ward directory of another chain of the same id: refused, exit 3; by default one per chain',
  async (t) => {
    const { promisify } = await import('node:util');
    const { execFile } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { FakeLedger, FakeNode } = await import('../testing/fake-node.ts');
    const { tempDir } = await import('../testing/helpers.ts');
    const chains = [new FakeLedger('vigil-devnet'), new FakeLedger('vigil-devnet')];
    const nodes = chains.map((l) => new FakeNode(l));
    for (const n of nodes) await n.start();
    t.teardown(() => Promise.all(nodes.map((n) => n.stop())));
    const dir = tempDir(t);
    const ward = (node: InstanceType<typeof FakeNode>, ...more: string[]) =>
      promisify(execFile)(
        process.execPath,
        [
          CLI,
          ...['--patients', '2', '--rate', '1', '--duration', '1', '--register', '--nodes', node.url],
          ...more,
        ],
        { cwd: dir },
      );
    const first = await ward(nodes[0]!, '--data-dir', join(dir, 'ward'));
    t.match(first.stdout, /done: queued (\d+), delivered \1,/);

    // Before the fix: exit 0 and "delivered 0", chain A's queues resent to B and its nonces waited on.
    const err = await ward(nodes[1]!, '--data-dir', join(dir, 'ward')).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    t.ok(err, 'exits non-zero');
    t.equal(err?.code, 3, 'a data-directory problem');
    t.match(err?.stderr, /DATA_DIR_OTHER_CHAIN: data directory .*ward.* belongs to chain vigil-devnet/);
    t.match(err?.stderr, chains[1]!.genesisHash!.slice(0, 16), "names the node's chain too");
    t.equal(chains[1]!.submissions, 0, 'nothing registered or sent on the other chain');

    // Without --data-dir each chain gets its own directory, named after its genesis.
    for (const [i, node] of nodes.entries()) {
      const { stdout } = await ward(node);
      t.match(stdout, /done: queued (\d+), delivered \1,/, `chain ${i} delivers`);
      t.ok(existsSync(join(dir, 'sensors-data', `vigil-devnet-${chains[i]!.genesisHash!.slice(0, 16)}`)));
    }
  },
);

t.test('nothing delivered because the chain refuses every reading: exit 1 with the reason', async (t) => {
  const { promisify } = await import('node:util');
  const { execFile } = await import('node:child_process');
  const { join } = await import('node:path');
  const { FakeLedger, FakeNode } = await import('../testing/fake-node.ts');
  const { tempDir } = await import('../testing/helpers.ts');
  const ledger = new FakeLedger('vigil-cli-test');
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  ledger.refuseNext = { code: 'DEVICE_NOT_BOUND', count: 1_000_000 };
  const dir = tempDir(t);
  const err = await promisify(execFile)(process.execPath, [
    CLI,
    ...[
      '--patients',
      '1',
      '--rate',
      '1',
      '--duration',
      '1',
      '--nodes',
      node.url,
      '--data-dir',
      join(dir, 'w'),
    ],
  ]).then(
    () => undefined,
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  t.equal(err?.code, 1, 'not exit 0');
  t.match(err?.stdout, /delivered 0, dead-lettered [1-9]/);
  t.match(
    err?.stderr,
    /nothing delivered: the chain refused the readings permanently \(DEVICE_NOT_BOUND x\d+\)/,
  );
  t.match(err?.stderr, /--register/, 'and suggests the likely fix');
});
