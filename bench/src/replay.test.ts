// `bench -- replay` re-applies a kept home's chain to a fresh store and must reach the same state root
// at every height; a home without a chain is the researcher's mistake (exit 2), not a crash.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BlockExecutor } from '@vigil/node/exec/executor.ts';
import { certify, nextBlock, nodeCryptoSigner } from '@vigil/node/exec/testing.ts';
import { fastVerifier } from '@vigil/node/crypto/fast-verifier.ts';
import { createHandlers } from '@vigil/node/state-machine/index.ts';
import { ChainStore } from '@vigil/node/store/chain-store.ts';
import { loadGenesis, toChainGenesis } from '@vigil/node/validator/genesis-file.ts';
import { homePaths, loadValidatorKey } from '@vigil/node/validator/home.ts';
import { createNetworkHomes } from '@vigil/node/validator/network-homes.ts';
import { VerifyPool } from '@vigil/node/verify-pool/pool.ts';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

t.test('replays every kept block to the same state roots and reports the rate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { homes } = createNetworkHomes({ dir, validators: 4, seedLabel: 'replay-test' });
  const home = homes[0]!;
  const signers = homes.map((h) => nodeCryptoSigner(loadValidatorKey(h).seed));
  const genesis = loadGenesis(homePaths(home).genesis);
  const store = await ChainStore.open(homePaths(home).chainDb);
  const pool = new VerifyPool({ size: 1 });
  try {
    await store.initChain(toChainGenesis(genesis));
    const executor = new BlockExecutor({
      store,
      handlers: createHandlers(),
      verifier: pool,
      certificateVerifier: fastVerifier,
    });
    // Undecodable transactions are rejected with receipts: the blocks still change the chain (receipts,
    // index entries) and the replay must account for them exactly.
    for (let h = 1; h <= 3; h++) {
      const block = nextBlock(
        store.requireHead(),
        [Uint8Array.of(h), Uint8Array.of(0, h)],
        genesis.genesisTime + h,
      );
      await executor.applyBlock(block, certify(genesis.chainId, block, signers));
    }
  } finally {
    await store.close();
    await pool.close();
  }

  const r = run('replay', home);
  t.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.equal(result.bench, 'replay');
  t.equal(result.blocks, 3);
  t.equal(result.transactions, 6);
  t.equal(result.signaturesChecked, false);
  t.ok(result.txPerSecond > 0);
});

t.test('a home without a chain exits 2 with the usage', async (t) => {
  const r = run('replay');
  t.equal(r.status, 2);
  t.match(r.stderr, /replay needs the home a probe kept/);
  const bad = run('replay', '/nowhere', '--segments', 'x');
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--segments: a positive integer, not 'x'/);
});
