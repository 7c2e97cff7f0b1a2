// The state tree stored every few blocks, its nodes held in memory in between (ADR 0116): the same
// roots as a tree stored every block, fewer nodes written, a node stopped cleanly or killed between two
// materialisations restarting at the same root, damaged 'D' records refused, given-up states reported.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { certify, counterKey, counterTx, nextBlock, seededSigner, TEST_CHAIN } from '../exec/testing.ts';
import { ChainStore, SCHEMA_VERSION, treeIntervalFromEnv } from './chain-store.ts';
import {
  applyCounterBlocks,
  type CounterChain,
  countKeys,
  counterValidators as validators,
  crash,
  openCounterChain,
} from './counter-chain.ts';
import { keys, Prefix } from './keys.ts';
import { decodeUint, encodeKeyList } from './records.ts';

const senders = Array.from({ length: 4 }, (_, i) => seededSigner(11, i));
const T0 = 1_700_000_300_000;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

type Node = CounterChain;

function openNode(t: Test, treeInterval: number, dir?: string): Promise<Node> {
  return openCounterChain(t, {
    treeInterval,
    senders: senders.length,
    ...(dir !== undefined ? { dir } : {}),
  });
}

/** Block `h`'s transactions: every sender bumps a counter; names repeat so keys change again and again. */
function txsOf(node: Node, h: number, names: readonly string[]): Uint8Array[] {
  return senders.map((s, i) => counterTx(s, ++node.nonces[i]!, names[(h + i) % names.length]!, i + 1));
}

function applyBlocks(node: Node, count: number, names: readonly string[]): Promise<string[]> {
  return applyCounterBlocks(node, count, (n, h) => txsOf(n, h, names), T0);
}

t.test('same roots as a tree stored every block, a fraction of the nodes written', async (t) => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const every = await openNode(t, 1);
  const held = await openNode(t, 8);
  const r1 = await applyBlocks(every, 21, names);
  const r8 = await applyBlocks(held, 21, names);
  t.same(r8, r1, 'every height has the same state root');
  t.equal(held.store.storedTreeHeight, 16, 'stored at 8 and 16; 17..21 held');
  t.equal(every.store.storedTreeHeight, 21);
  t.equal(await countKeys(held.store, Prefix.treeChanges), 5, "a 'D' record per held height");
  t.equal(await countKeys(every.store, Prefix.treeChanges), 0);
  const n1 = await countKeys(every.store, Prefix.treeNode);
  const n8 = await countKeys(held.store, Prefix.treeNode);
  t.ok(n8 * 2 < n1, `tree nodes written: ${n8} held every 8 blocks vs ${n1} every block`);
  const th = await held.store.meta.treeHeight();
  t.equal(th, 16, 'treeHeight recorded');
  t.equal(
    decodeUint((await held.store.meta.raw('schemaVersion'))!, 'schema'),
    SCHEMA_VERSION,
    'schema recorded (7 for every chain since ADR 0130; it reads the D records)',
  );
  // The head's state (held) is read and proved like a stored one.
  for (const name of names) {
    const p = await held.store.proveState(counterKey(name));
    t.equal(hex(p.root), r8[20]);
    t.ok(verifySparseMerkleProof(p.root, counterKey(name), p.value, p.proof), `proof of ${name} at the head`);
    t.same(await held.store.verifiedState(counterKey(name)), p.value, 'verified read through held nodes');
  }
});

t.test(
  'killed between two materialisations: restarts at the same root, rebuilt from the D records',
  async (t) => {
    const names = ['a', 'b', 'c'];
    const reference = await openNode(t, 1);
    const refRoots = await applyBlocks(reference, 30, names);

    const node = await openNode(t, 10);
    t.teardown(() => rm(node.dir, { recursive: true, force: true }));
    await applyBlocks(node, 14, names);
    t.equal(node.store.storedTreeHeight, 10);
    await crash(node);

    const again = await openNode(t, 10, node.dir);
    t.teardown(() => again.store.close());
    again.nonces = node.nonces;
    t.equal(again.store.requireHead().height, 14);
    t.equal(again.store.storedTreeHeight, 10, 'the stored tree is still that of height 10');
    t.equal(hex(again.store.requireHead().stateRoot), refRoots[13]);
    const p = await again.store.proveState(counterKey('a'));
    t.ok(verifySparseMerkleProof(p.root, counterKey('a'), p.value, p.proof), 'the rebuilt head state proves');
    // And it goes on: the next materialisation stores the rebuilt nodes too.
    const more = await applyBlocks(again, 16, names);
    t.same(more, refRoots.slice(14), 'later roots equal the reference');
    t.equal(again.store.storedTreeHeight, 30);
    t.equal(await countKeys(again.store, Prefix.treeChanges), 0, "materialising dropped the 'D' records");
  },
);

t.test('a clean close stores the held tree', async (t) => {
  const node = await openNode(t, 16);
  t.teardown(() => rm(node.dir, { recursive: true, force: true }));
  await applyBlocks(node, 5, ['a', 'b']);
  const root = hex(node.store.requireHead().stateRoot);
  await node.store.close();
  const again = await openNode(t, 16, node.dir);
  t.teardown(() => again.store.close());
  t.equal(again.store.storedTreeHeight, 5, 'nothing to rebuild');
  t.equal(hex(again.store.requireHead().stateRoot), root);
  t.equal(await countKeys(again.store, Prefix.treeChanges), 0);
});

t.test('damaged D records stop startup and change nothing', async (t) => {
  const cases: { what: string; code: string; damage: (db: ChainStore['db']) => Promise<void> }[] = [
    { what: 'a D record gone', code: 'MISSING_RECORD', damage: (db) => db.del(keys.treeChanges(3)) },
    {
      // The changes of every held height lost: the stored tree of height 0 is not the head's.
      what: 'changes left out',
      code: 'CORRUPT_STATE',
      damage: async (db) => {
        for (let h = 1; h <= 4; h++) await db.put(keys.treeChanges(h), encodeKeyList([]));
      },
    },
    {
      what: 'a D record garbled',
      code: 'CORRUPT_RECORD',
      damage: (db) => db.put(keys.treeChanges(2), Uint8Array.of(0x01, 0x02)),
    },
    {
      what: 'above the head',
      code: 'CORRUPT_METADATA',
      damage: (db) => db.put(keys.meta('treeHeight'), Uint8Array.of(0x18, 99)),
    },
  ];
  for (const c of cases) {
    const node = await openNode(t, 50);
    t.teardown(() => rm(node.dir, { recursive: true, force: true }));
    await applyBlocks(node, 4, ['a', 'b', 'c']);
    await c.damage(node.store.db);
    await crash(node);
    await t.rejects(ChainStore.open(node.dir), { name: 'StoreError', code: c.code }, c.what);
    // Nothing written by the failed start: opening again fails the same way.
    await t.rejects(
      ChainStore.open(node.dir),
      { name: 'StoreError', code: c.code },
      `${c.what}: still refused`,
    );
  }
});

t.test('a given-up held state is STATE_NOT_RETAINED; the newest ones stay provable', async (t) => {
  const node = await openNode(t, 8);
  await applyBlocks(node, 12, ['a', 'b', 'c']);
  // Stored at 8 (keeping the held states of 4..7), held 9..12.
  for (const h of [8, 9, 10, 11, 12, 7, 6, 5, 4]) {
    t.ok(await node.store.hasStateAt(h), `state of ${h} readable`);
    const p = await node.store.proveState(counterKey('a'), h);
    t.ok(verifySparseMerkleProof(p.root, counterKey('a'), p.value, p.proof), `proof at ${h}`);
  }
  for (const h of [1, 2, 3]) {
    t.notOk(await node.store.hasStateAt(h), `state of ${h} given up`);
    await t.rejects(node.store.proveState(counterKey('a'), h), {
      name: 'StoreError',
      code: 'STATE_NOT_RETAINED',
    });
  }
  t.ok(await node.store.hasStateAt(0), 'genesis was stored');
});

t.test('any interval and crash point gives the roots of a tree stored every block', async (t) => {
  const names = ['a', 'b', 'c', 'd'];
  const reference = await openNode(t, 1);
  const refRoots = await applyBlocks(reference, 24, names);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 9 }),
      fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 3 }),
      async (interval, crashes) => {
        const node = await openNode(t, interval);
        const dir = node.dir;
        let current = node;
        const roots: string[] = [];
        for (const at of [...new Set(crashes)].sort((a, b) => a - b)) {
          const h = current.store.requireHead().height;
          roots.push(...(await applyBlocks(current, at - h, names)));
          const nonces = current.nonces;
          await crash(current);
          current = await openNode(t, interval, dir);
          current.nonces = nonces;
          if (hex(current.store.requireHead().stateRoot) !== refRoots[at - 1]) return false;
        }
        roots.push(...(await applyBlocks(current, 24 - current.store.requireHead().height, names)));
        await current.store.close();
        await rm(dir, { recursive: true, force: true });
        return roots.join() === refRoots.join();
      },
    ),
    { numRuns: 12, seed: 116 },
  );
});

t.test('VIGIL_TREE_INTERVAL and the treeInterval option are checked', async (t) => {
  t.equal(treeIntervalFromEnv({}), undefined);
  t.equal(treeIntervalFromEnv({ VIGIL_TREE_INTERVAL: '' }), undefined);
  t.equal(treeIntervalFromEnv({ VIGIL_TREE_INTERVAL: '1' }), 1);
  t.equal(treeIntervalFromEnv({ VIGIL_TREE_INTERVAL: '64' }), 64);
  for (const bad of ['0', '-3', '2.5', 'many']) {
    t.throws(
      () => treeIntervalFromEnv({ VIGIL_TREE_INTERVAL: bad }),
      { name: 'StoreError', code: 'INVALID_OPTION' },
      bad,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'vigil-held-tree-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.rejects(ChainStore.open(dir, { treeInterval: 0 }), { name: 'StoreError', code: 'INVALID_OPTION' });
  // The database was closed again: it opens.
  await (await ChainStore.open(dir)).close();
});

t.test('close() racing a block being applied: the restart is consistent whichever lands first', async (t) => {
  const names = ['a', 'b'];
  const reference = await openNode(t, 1);
  const refRoots = await applyBlocks(reference, 3, names);
  const tick = () => new Promise<void>((r) => setImmediate(r));
  // interval 3: the block racing close() materialises (height 3) or is held (height 2); close() after 0
  // to 32 turns of the event loop lands before, during or after its batch write.
  for (const racing of [2, 3]) {
    for (const ticks of [0, 1, 2, 4, 8, 16, 32]) {
      const node = await openNode(t, 3);
      t.teardown(() => rm(node.dir, { recursive: true, force: true }));
      await applyBlocks(node, racing - 1, names);
      const head = node.store.requireHead();
      const block = nextBlock(head, txsOf(node, head.height + 1, names), T0 + 1000 * (head.height + 1));
      const applying = node.exec.applyBlock(block, certify(TEST_CHAIN, block, validators)).then(
        () => 'applied',
        (e: { code?: string }) => e.code ?? 'failed',
      );
      for (let i = 0; i < ticks; i++) await tick();
      await node.store.close();
      const outcome = await applying;
      const again = await openNode(t, 3, node.dir);
      const h = again.store.requireHead().height;
      const what = `block ${racing}, close after ${ticks} ticks (${outcome})`;
      t.equal(
        h,
        outcome === 'applied' ? racing : racing - 1,
        `${what}: restarted at the last applied height`,
      );
      t.equal(hex(again.store.requireHead().stateRoot), refRoots[h - 1], `${what}: its root`);
      t.equal(again.store.storedTreeHeight, h, `${what}: the tree stored at the head by close()`);
      t.equal(await countKeys(again.store, Prefix.treeChanges), 0, `${what}: no D records left`);
      await again.store.close();
    }
  }
});
