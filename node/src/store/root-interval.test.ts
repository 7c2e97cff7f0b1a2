// A state root every k blocks (ADR 0117): the root recorded at height h is the root of the state after
// h - (h mod k), whatever the tree-storage interval, crash points, clean closes and certified ranges in
// between; the flat state stays current and tamper-evident; the genesis names k.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { blockHash, encodeCanonical, makeBlock } from '@vigil/consensus/wire';
import type { CertifiedBlock } from '../exec/executor.ts';
import { certify, counterKey, counterTx, seededSigner, TEST_CHAIN, testGenesis } from '../exec/testing.ts';
import { ChainStore, genesisHash, rootedHeight, SCHEMA_VERSION } from './chain-store.ts';
import {
  applyCounterBlocks,
  type CounterChain,
  counterValidators as validators,
  crash,
  openCounterChain,
} from './counter-chain.ts';
import { keys } from './keys.ts';
import { decodeChangeList, decodeUint, encodeChangeList, encodeKeyList } from './records.ts';

const senders = Array.from({ length: 3 }, (_, i) => seededSigner(17, i));
const T0 = 1_700_000_400_000;
const NAMES = ['a', 'b', 'c', 'd', 'e'];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Node = CounterChain;

function openNode(t: Test, k: number, treeInterval: number, dir?: string, nonces?: number[]): Promise<Node> {
  return openCounterChain(t, {
    treeInterval,
    stateRootInterval: k,
    senders: senders.length,
    ...(dir !== undefined ? { dir } : {}),
    ...(nonces !== undefined ? { nonces } : {}),
  });
}

/** Block `h`'s transactions: every sender bumps a counter; the names repeat, so keys change again and again. */
function txsOf(node: Node, h: number): Uint8Array[] {
  return senders.map((s, i) =>
    counterTx(s, ++node.nonces[i]!, NAMES[(h * 7 + i * 3) % NAMES.length]!, i + 1),
  );
}

function applyBlocks(node: Node, count: number): Promise<string[]> {
  return applyCounterBlocks(node, count, txsOf, T0);
}

/**
 * The next `count` blocks for applyCertifiedRange, each citing the state of the node's current head (a
 * certified header may cite any earlier height's root).
 */
function certifiedBlocks(node: Node, count: number): CertifiedBlock[] {
  const start = node.store.requireHead();
  const out: CertifiedBlock[] = [];
  let prevHash = start.headHash;
  for (let i = 0; i < count; i++) {
    const h = start.height + 1 + i;
    const block = makeBlock(
      {
        version: 1,
        chainId: TEST_CHAIN,
        height: h,
        view: 0,
        prevHash,
        stateRoot: start.stateRoot,
        stateHeight: start.height,
        proposer: 0,
        timestamp: T0 + 1000 * h,
      },
      txsOf(node, h),
    );
    out.push({ block, certificate: certify(TEST_CHAIN, block, validators) });
    prevHash = blockHash(block.header);
  }
  return out;
}

/** Roots of every height's own state (k = 1), index h - 1 for height h; [0] of `withGenesis` is genesis. */
async function referenceRoots(t: Test, blocks: number): Promise<string[]> {
  const ref = await openNode(t, 1, 1);
  const genesis = hex(ref.store.requireHead().stateRoot);
  return [genesis, ...(await applyBlocks(ref, blocks))];
}

t.test('the root of height h is that of h - (h mod k); the flat state is current', async (t) => {
  const ref = await referenceRoots(t, 20);
  const node = await openNode(t, 4, 32);
  const roots = await applyBlocks(node, 20);
  t.same(
    roots,
    roots.map((_, i) => ref[rootedHeight(i + 1, 4)]),
    'every height records the root of its last multiple of 4',
  );
  t.equal(node.store.stateRootInterval, 4);
  // Every chain is created at schema 7 (ADR 0130); k is told by its own record.
  t.equal(
    decodeUint((await node.store.meta.raw('schemaVersion'))!, 'schema'),
    SCHEMA_VERSION,
    'schema recorded',
  );
  t.equal(decodeUint((await node.store.meta.raw('stateRootInterval'))!, 'k'), 4, 'k recorded');
  // Two blocks past the root height 20: nothing pending. Two more, and their changes are.
  await applyBlocks(node, 2);
  t.ok(node.store.pendingChanges().length > 0, 'changes of 21-22 pending');
  t.equal(hex(node.store.requireHead().stateRoot), ref[20], 'the head root is still that of 20');
  // Reads are current and verified: a pending key against the value its block wrote.
  for (const name of NAMES) {
    const flat = await node.store.state.get(counterKey(name));
    t.same(await node.store.verifiedState(counterKey(name)), flat, `verified read of ${name}`);
    const p = await node.store.proveState(counterKey(name));
    t.equal(hex(p.root), ref[20]);
    t.ok(
      verifySparseMerkleProof(p.root, counterKey(name), p.value, p.proof),
      `proof of ${name} (state of 20)`,
    );
  }
});

t.test('a tampered flat copy of a pending key is CORRUPT_STATE', async (t) => {
  const node = await openNode(t, 8, 32);
  await applyBlocks(node, 3);
  const pending = node.store.pendingChanges()[0]!;
  await node.store.db.put(keys.state(pending.key), Uint8Array.of(9, 9, 9));
  node.store.state.committed([{ key: pending.key, value: Uint8Array.of(9, 9, 9) }]);
  await t.rejects(node.store.verifiedState(pending.key), { name: 'StoreError', code: 'CORRUPT_STATE' });
});

t.test('any k, tree interval and crash points give the same roots; a clean close too', async (t) => {
  const blocks = 26;
  const ref = await referenceRoots(t, blocks);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 9 }),
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.integer({ min: 1, max: blocks }), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      async (k, treeInterval, stops, clean) => {
        let node = await openNode(t, k, treeInterval);
        const dir = node.dir;
        const roots: string[] = [];
        for (const at of [...new Set(stops)].sort((a, b) => a - b)) {
          roots.push(...(await applyBlocks(node, at - node.store.requireHead().height)));
          if (clean) await node.store.close();
          else await crash(node);
          node = await openNode(t, k, treeInterval, dir, node.nonces);
          if (node.store.stateRootInterval !== k) return false;
          if (hex(node.store.requireHead().stateRoot) !== ref[rootedHeight(at, k)]) return false;
        }
        roots.push(...(await applyBlocks(node, blocks - node.store.requireHead().height)));
        await node.store.close();
        return roots.every((r, i) => r === ref[rootedHeight(i + 1, k)]);
      },
    ),
    { numRuns: 20, seed: 117 },
  );
});

t.test('killed after a root height whose tree was held: rebuilt with the values of then', async (t) => {
  // k = 4, the tree stored only at genesis: the restart at 7 rebuilds the tree of 4 from the 'D' records
  // of 1..4 (their values, not the flat copy's: every nonce changed again in 5..7) and keeps 5..7 pending.
  const ref = await referenceRoots(t, 12);
  const node = await openNode(t, 4, 1000);
  await applyBlocks(node, 7);
  t.equal(node.store.storedTreeHeight, 0);
  await crash(node);
  const again = await openNode(t, 4, 1000, node.dir, node.nonces);
  t.teardown(() => again.store.close());
  t.equal(hex(again.store.requireHead().stateRoot), ref[4], 'the root of 4');
  t.equal(again.store.pendingChanges().length > 0, true, 'the changes of 5..7 pending again');
  for (const name of NAMES) {
    t.same(
      await again.store.verifiedState(counterKey(name)),
      await again.store.state.get(counterKey(name)),
      `verified read of ${name} after the restart`,
    );
  }
  const roots = await applyBlocks(again, 5);
  t.same(
    roots,
    roots.map((_, i) => ref[rootedHeight(8 + i, 4)]),
    '8..12 as the reference',
  );
});

t.test('certified ranges end at multiples of k and agree with live execution', async (t) => {
  const ref = await referenceRoots(t, 40);
  const k = 5;
  const node = await openNode(t, k, 32);
  await applyBlocks(node, 3); // head 3: the next multiple of 5 is 2 blocks away
  // A range offered 11 blocks (4..14) ends at 10; then 11..14 reach no multiple: one block at a time.
  const items = certifiedBlocks(node, 11);
  const first = await node.exec.applyCertifiedRange(items, { maxBlocks: 64 });
  t.equal(first.height, 10, 'the range ends at the last multiple of 5 in reach');
  t.equal(hex(first.stateRoot), ref[10]);
  const rest = items.slice(first.blocks.length);
  const heights: number[] = [];
  let left = rest;
  while (left.length > 0) {
    const r = await node.exec.applyCertifiedRange(left);
    heights.push(r.height);
    t.equal(hex(r.stateRoot), ref[rootedHeight(r.height, k)], `root recorded at ${r.height}`);
    left = left.slice(r.blocks.length);
  }
  t.same(heights, [11, 12, 13, 14], 'no multiple in reach: each block alone');
  // A transaction limit that stops the range between multiples: it is applied again up to the last one.
  const more = certifiedBlocks(node, 12); // 15..26
  const limited = await node.exec.applyCertifiedRange(more, { maxTxs: senders.length * 8 });
  t.equal(limited.height, 20, 'limit at 22 blocks -> ends at 20');
  t.equal(hex(limited.stateRoot), ref[20]);
  const tail = more.slice(limited.blocks.length); // 21..26
  const r = await node.exec.applyCertifiedRange(tail);
  t.equal(r.height, 25, '21..25 as one range');
  const last = await node.exec.applyCertifiedRange(tail.slice(r.blocks.length));
  t.equal(last.height, 26, '26 alone');
  t.equal(hex(last.stateRoot), ref[25]);
  t.ok(node.store.pendingChanges().length > 0, "26's changes pending");
  // Live blocks after the ranges: the same roots as the reference.
  const live = await applyBlocks(node, 8);
  t.same(
    live,
    live.map((_, i) => ref[rootedHeight(27 + i, k)]),
    'live execution after the ranges',
  );
});

t.test('startup: a D record without values on a k > 1 chain is CORRUPT_RECORD', async (t) => {
  const node = await openNode(t, 4, 32);
  await applyBlocks(node, 6);
  await node.store.db.put(keys.treeChanges(5), encodeKeyList([counterKey('a')]));
  await crash(node);
  await t.rejects(ChainStore.open(node.dir), { name: 'StoreError', code: 'CORRUPT_RECORD' });
});

t.test('the genesis names k: its hash, its checks', async (t) => {
  const spec = testGenesis(validators);
  t.same(genesisHash({ ...spec, stateRootInterval: 1 }), genesisHash(spec), 'k = 1: the hash of before');
  t.notSame(genesisHash({ ...spec, stateRootInterval: 8 }), genesisHash(spec), 'k = 8: another chain');
  for (const bad of [0, -1, 2.5, 1025]) {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-root-interval-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const store = await ChainStore.open(dir);
    await t.rejects(store.initChain({ ...spec, stateRootInterval: bad }), {
      name: 'StoreError',
      code: 'INVALID_OPTION',
    });
    await store.close();
  }
  const node = await openNode(t, 1, 32);
  t.equal(decodeUint((await node.store.meta.raw('schemaVersion'))!, 'schema'), SCHEMA_VERSION, 'k = 1 too');
  t.equal(await node.store.meta.raw('stateRootInterval'), undefined, 'and records no k');
});

t.test("'D' records: both forms decode; any other shape is CORRUPT_RECORD", async (t) => {
  const key = Uint8Array.of(1, 2);
  t.same(decodeChangeList(encodeKeyList([key]), 'D'), [{ key, value: undefined }], 'keys only (schema 4)');
  t.same(
    decodeChangeList(
      encodeChangeList([
        { key, value: Uint8Array.of(7) },
        { key, value: undefined },
      ]),
      'D',
    ),
    [
      { key, value: Uint8Array.of(7) },
      { key, value: null },
    ],
    'keys with values or null (schema 5)',
  );
  for (const bad of [[5], [[key]], [[key, 5]], [[key, Uint8Array.of(1), null]], 'x', [[7, null]]]) {
    t.throws(() => decodeChangeList(encodeCanonical(bad as never), 'D'), {
      name: 'StoreError',
      code: 'CORRUPT_RECORD',
    });
  }
});
