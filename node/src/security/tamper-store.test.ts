// ChainStore.verifiedState / verifyStateEntry directly, on a store with a small genesis state: the
// same checks the API's read view relies on (tamper.test.ts shows them end to end).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesEqual, decodeCanonical } from '@vigil/consensus/wire';
import t, { type Test } from 'tap';
import { ChainStore } from '../store/chain-store.ts';
import { StoreError } from '../store/errors.ts';
import { keys, Prefix } from '../store/keys.ts';

const enc = new TextEncoder();
const state = ['alpha', 'beta', 'gamma'].map((k) => ({
  key: enc.encode(`k/${k}`),
  value: enc.encode(`value of ${k}`),
}));

async function freshStore(dir: string): Promise<ChainStore> {
  const store = await ChainStore.open(join(dir, 'chain'));
  await store.initChain({
    chainId: 'vigil-tamper-store',
    genesisTime: 1,
    validators: [new Uint8Array(32)],
    state,
  });
  return store;
}

async function corruptState(t: Test, p: Promise<unknown>, what: string) {
  await p.then(
    () => t.fail(`${what}: served`),
    (e) =>
      t.ok(
        e instanceof StoreError && e.code === 'CORRUPT_STATE',
        `${what}: CORRUPT_STATE (${(e as Error).message})`,
      ),
  );
}

t.test('flat copy and tree leaf are checked against each other and the root', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tamper-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let store = await freshStore(dir);
  const [a, b] = state as [(typeof state)[0], (typeof state)[0]];
  t.same(await store.verifiedState(a.key), a.value, 'control: an intact value is served');
  t.equal(await store.verifiedState(enc.encode('k/absent')), undefined, 'control: an absent key is absent');
  await store.verifyStateEntry(b.key, b.value);
  t.pass('control: an intact scanned entry passes');
  // A scanned value that is no longer on disk is stale, not corrupt.
  await store.verifyStateEntry(b.key, enc.encode('an older value'));
  t.pass('a value that differs from both tree and disk is treated as superseded');

  // Flat copy altered on disk (the store reopened, so no cache hides it).
  await store.db.put(keys.state(a.key), enc.encode('value of alphA'));
  await store.close();
  store = await ChainStore.open(join(dir, 'chain'));
  await corruptState(t, store.verifiedState(a.key), 'altered flat copy');
  await corruptState(
    t,
    store.verifyStateEntry(a.key, enc.encode('value of alphA')),
    'altered flat copy, scanned',
  );
  // A flat copy for a key the tree does not have.
  await store.db.put(keys.state(enc.encode('k/ghost')), enc.encode('boo'));
  await corruptState(t, store.verifiedState(enc.encode('k/ghost')), 'a flat value with no tree leaf');
  await store.db.put(keys.state(a.key), a.value);

  // The leaf's value bytes altered (its hashes untouched).
  let leafKey: Uint8Array | undefined;
  let leafValue: Uint8Array | undefined;
  for await (const [k, v] of store.db.iterator({
    gt: Uint8Array.of(Prefix.treeNode),
    lt: Uint8Array.of(Prefix.treeNode + 1),
  })) {
    const n = decodeCanonical(v);
    if (Array.isArray(n) && n[0] === 0 && n[3] instanceof Uint8Array && bytesEqual(n[3], b.key)) {
      leafKey = Uint8Array.from(k);
      leafValue = Uint8Array.from(v);
    }
  }
  t.ok(leafKey && leafValue, 'found the leaf');
  leafValue![leafValue!.length - 1]! ^= 1;
  await store.db.put(leafKey!, leafValue!);
  await store.close();
  store = await ChainStore.open(join(dir, 'chain'));
  await corruptState(t, store.verifiedState(b.key), 'altered leaf value');
  t.same(await store.verifiedState(a.key), a.value, 'other keys are still served');
  await store.close();
});
