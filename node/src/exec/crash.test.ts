// Crash safety (issue #4): a node SIGKILLed at any moment restarts at the last fully applied height
// with the state root an uninterrupted replay has at that height. Children apply the deterministic
// workload (crash-workload.ts) on their own data directory; we kill them at random moments (during
// start-up, open, execution or the batch write), restart, and compare what they report on opening with
// a reference replay in this process. Several lanes run at once so that >= 100 kills fit the budget.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { ChainStore } from '../store/chain-store.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { sleep, startChild } from './child-harness.ts';
import { applyWorkloadBlock, type CertifiedBlock, writeBlockFile } from './crash-workload.ts';
import { BlockExecutor } from './executor.ts';
import { counterHandlers, testGenesis, testValidators } from './testing.ts';

const LANES = Number(process.env.VIGIL_CRASH_LANES ?? 4);
const KILLS_PER_LANE = Number(process.env.VIGIL_CRASH_KILLS ?? 26);
const BLOCKS = 300;
/** Blocks per certified range in the lanes that apply ranges. */
const RANGE = 3;
/** The state-root interval of the last lane's chain (ADR 0117): the tree updated every K_ROOT blocks. */
const K_ROOT = 4;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Small seeded PRNG (mulberry32): the kill schedule is reproducible from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('SIGKILL at random moments: restart at the last durable height with the replayed root', async (t) => {
  const seed = Number(process.env.VIGIL_CRASH_SEED ?? Date.now() % 1_000_000);
  t.comment(`crash schedule seed ${seed} (VIGIL_CRASH_SEED to reproduce)`);
  const base = await mkdtemp(join(tmpdir(), 'vigil-crash-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));

  // The uninterrupted replays: build the blocks the children apply, and the expected roots. A chain
  // with another state-root interval is another chain (its headers cite other roots): one each.
  const validators = testValidators(4);
  const replay = async (k: number) => {
    const ref = await ChainStore.open(join(base, `reference-${k}`));
    t.teardown(() => ref.close());
    // Receipts roots in the state (ADR 0123), as every chain the tooling creates: one more entry per block.
    await ref.initChain({
      ...testGenesis(validators),
      stateRootInterval: k,
      receiptsRoots: true,
      blockEffects: true,
    });
    const roots = [hex(ref.requireHead().stateRoot)];
    const refExec = new BlockExecutor({
      store: ref,
      handlers: counterHandlers,
      verifier: inlineBatchVerifier(fastVerifier),
      certificateVerifier: fastVerifier,
    });
    const blocks: CertifiedBlock[] = [];
    for (let h = 1; h <= BLOCKS; h++) {
      const { result, certified } = await applyWorkloadBlock(ref, refExec, validators);
      roots.push(hex(result.stateRoot));
      blocks.push(certified);
    }
    const file = join(base, `blocks-${k}.bin`);
    await writeBlockFile(file, blocks);
    return { roots, file };
  };
  const chains = new Map([
    [1, await replay(1)],
    [K_ROOT, await replay(K_ROOT)],
  ]);

  const script = new URL('./crash-child.ts', import.meta.url).pathname;
  let kills = 0;
  let mismatches = 0;
  let regressions = 0;
  let blocksApplied = 0;
  /** Restarts whose state tree was stored below the head: the held tree rebuilt from 'D' records. */
  let rebuilt = 0;
  /** Restarts of the K_ROOT lane between two root heights: changes pending again from 'D' records. */
  let pendingRestarts = 0;

  const lane = async (id: number): Promise<void> => {
    const rnd = prng(seed * 31 + id);
    const dir = join(base, `lane-${id}`);
    // Odd lanes apply in certified ranges of RANGE blocks, as block sync does (ADR 0115): durable, and
    // reported, only at range ends. The last lane: a chain whose tree is updated every K_ROOT blocks (ADR 0117), block by block.
    const rootInterval = id === LANES - 1 && LANES > 2 ? K_ROOT : 1;
    const range = rootInterval === 1 && id % 2 === 1 ? RANGE : 1;
    const { roots, file: blockFile } = chains.get(rootInterval)!;
    const rootAt = (h: number): string | undefined => roots[h];
    let durable = 0; // highest height a child reported as applied (its batch resolved)
    for (let k = 0; k <= KILLS_PER_LANE; k++) {
      const child = startChild(script, [dir, blockFile, String(range), String(rootInterval)]);
      const last = k === KILLS_PER_LANE; // the last start only checks
      try {
        if (!last && rnd() < 0.15) {
          // Anywhere in start-up, opening and the first blocks.
          await sleep(rnd() * 700);
        } else {
          const open = await child.waitFor(/^open /);
          if (!last) {
            // Let it apply 0-2 more blocks or ranges (progress that does not depend on machine speed),
            // then kill at a random point of the next one: execution, tree update or the batch write.
            const target = Math.min(BLOCKS, Number(open.split(' ')[1]) + range * Math.floor(rnd() * 3));
            // (`done`: a fast machine may reach the end of the pre-built blocks; then only restarts.)
            await child.waitFor(new RegExp(`^(applied ${target} |open ${target} |done$)`));
            await sleep(rnd() * 30);
          }
        }
      } finally {
        await child.kill();
      }
      if (!last) kills++;
      for (const line of child.lines) {
        const [what, h, root, treeHeight] = line.split(' ');
        const height = Number(h);
        if (what === 'open') {
          if (height < durable) regressions++;
          if (Number(treeHeight) < height) rebuilt++;
          if (rootInterval !== 1 && height % rootInterval !== 0) pendingRestarts++;
          if (rootAt(height) !== root) mismatches++;
        } else if (what === 'applied') {
          durable = Math.max(durable, height);
          blocksApplied++;
          if (rootAt(height) !== root) mismatches++;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
  t.comment(`${kills} kills, ${blocksApplied} blocks applied by children`);
  t.ok(kills >= LANES * KILLS_PER_LANE, `killed ${kills} times`);
  t.equal(regressions, 0, 'no restart below a height already reported durable');
  t.equal(mismatches, 0, 'every reported (height, root) equals the uninterrupted replay');
  t.ok(blocksApplied > 0, 'children made progress between kills');
  t.ok(rebuilt > 0, `${rebuilt} restarts rebuilt a held state tree (ADR 0116) to the replayed root`);
  if (LANES > 2)
    t.ok(
      pendingRestarts > 0,
      `${pendingRestarts} restarts of the k = ${K_ROOT} chain between root heights (ADR 0117)`,
    );
});
