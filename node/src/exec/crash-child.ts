// Child process of crash.test.ts: opens (or creates) the chain in argv[2], reports where it starts,
// then applies the pre-built blocks of argv[3] from there on, reporting each height once applyBlock
// has resolved (= durable), until the parent SIGKILLs it (or it runs out of blocks and idles). With
// argv[4] = N > 1 it applies them in certified ranges of N blocks and reports each range's end; argv[5]
// is the chain's state-root interval k (ADR 0117, default 1).
import type { Block, CommitCertificate } from '@vigil/consensus/wire';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { ChainStore } from '../store/chain-store.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { readBlockFile } from './crash-workload.ts';
import { BlockExecutor } from './executor.ts';
import { counterHandlers, TEST_CHAIN, testGenesis, testValidators } from './testing.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const [dir, blockFile, range, interval] = process.argv.slice(2) as [
  string,
  string,
  string | undefined,
  string | undefined,
];
/** Blocks per certified range; 1 = applyBlock, one block at a time (the live path). */
const rangeSize = Number(range ?? 1);
const store = await ChainStore.open(dir, { expectChainId: TEST_CHAIN });
if (store.head === undefined)
  await store.initChain({
    ...testGenesis(testValidators(4)),
    stateRootInterval: Number(interval ?? 1),
    receiptsRoots: true,
    blockEffects: true,
  });
const head = store.requireHead();
// The third field: the height of the stored state tree (below the head: startup rebuilt the held tree).
process.stdout.write(`open ${head.height} ${hex(head.stateRoot)} ${store.storedTreeHeight}\n`);
const exec = new BlockExecutor({
  store,
  handlers: counterHandlers,
  verifier: inlineBatchVerifier(fastVerifier),
  certificateVerifier: fastVerifier,
});
if (rangeSize === 1) {
  for await (const { block, certificate } of readBlockFile(blockFile, head.height)) {
    const r = await exec.applyBlock(block, certificate);
    process.stdout.write(`applied ${r.height} ${hex(r.stateRoot)}\n`);
  }
} else {
  // As block sync applies them (ADR 0115): certified ranges, durable (and reported) at each range's end.
  let pending: { block: Block; certificate: CommitCertificate }[] = [];
  const flush = async () => {
    while (pending.length > 0) {
      const r = await exec.applyCertifiedRange(pending, { maxBlocks: rangeSize });
      pending = pending.slice(r.blocks.length);
      process.stdout.write(`applied ${r.height} ${hex(r.stateRoot)}\n`);
    }
  };
  for await (const item of readBlockFile(blockFile, head.height)) {
    pending.push(item);
    if (pending.length === rangeSize) await flush();
  }
  await flush();
}
process.stdout.write('done\n');
setInterval(() => undefined, 60_000);
