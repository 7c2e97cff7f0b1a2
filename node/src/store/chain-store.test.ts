import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodeCanonical, encodeCanonical, referenceVerifier } from '@vigil/consensus/wire';
import { BlockExecutor } from '../exec/executor.ts';
import { dataFilesSnapshot } from '../testing/dir-snapshot.ts';
import {
  certify,
  counterHandlers,
  counterTx,
  nextBlock,
  seededSigner,
  testGenesis,
  testValidators,
} from '../exec/testing.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { ChainStore, genesisHash, SCHEMA_VERSION } from './chain-store.ts';
import { type ChainDb, openDb } from './db.ts';
import { keys } from './keys.ts';

const validators = testValidators(4);
const alice = seededSigner(6, 1);

async function dumpDir(dir: string): Promise<string[]> {
  const db = await openDb(dir);
  const out: string[] = [];
  for await (const [k, v] of db.iterator())
    out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  await db.close();
  return out;
}

t.test('startup checks', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-store-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const good = join(base, 'good');
  {
    const store = await ChainStore.open(good);
    t.equal(store.head, undefined, 'an empty directory has no chain yet');
    await store.initChain(testGenesis(validators));
    await t.rejects(store.initChain(testGenesis(validators)), { code: 'ALREADY_INITIALISED' });
    const exec = new BlockExecutor({
      store,
      handlers: counterHandlers,
      verifier: inlineBatchVerifier(referenceVerifier),
    });
    for (let n = 1; n <= 3; n++) {
      const b = nextBlock(store.requireHead(), [counterTx(alice, n, 'x', n)], 1_700_000_000_000 + n);
      await exec.applyBlock(b, certify('vigil-test', b, validators));
    }
    await store.close();
  }

  const reopened = await ChainStore.open(good, {
    expectChainId: 'vigil-test',
    expectGenesisHash: genesisHash(testGenesis(validators)),
  });
  t.equal(reopened.requireHead().height, 3);
  const root = reopened.requireHead().stateRoot;
  const headHash = reopened.requireHead().headHash;
  await reopened.close();

  /** Copies the good directory, damages the copy, and expects `code` with the copy unchanged by open. */
  let n = 0;
  const refuses = async (
    name: string,
    code: string,
    damage: (db: ChainDb) => Promise<void>,
    options: Parameters<typeof ChainStore.open>[1] = {},
  ) => {
    const dir = join(base, `case-${n++}`);
    await cp(good, dir, { recursive: true });
    const db = await openDb(dir);
    await damage(db);
    await db.close();
    const before = await dumpDir(dir);
    await t.rejects(ChainStore.open(dir, options), { code }, name);
    t.same(await dumpDir(dir), before, `${name}: nothing changed on disk`);
  };

  await refuses('another chain id', 'WRONG_CHAIN', async () => {}, { expectChainId: 'vigil-prod' });
  await refuses('another genesis', 'GENESIS_MISMATCH', async () => {}, {
    expectGenesisHash: new Uint8Array(32).fill(9),
  });
  await refuses('newer schema', 'SCHEMA_MISMATCH', (db) =>
    db.put(keys.meta('schemaVersion'), encodeCanonical(99)),
  );
  await refuses('metadata missing', 'CORRUPT_METADATA', (db) => db.del(keys.meta('appliedHeight')));
  await refuses('metadata garbage', 'CORRUPT_METADATA', (db) =>
    db.put(keys.meta('headHash'), Uint8Array.of(0xff)),
  );
  await refuses('a middle block missing', 'MISSING_RECORD', (db) => db.del(keys.block(2)));
  await refuses('the head block missing', 'MISSING_RECORD', (db) => db.del(keys.block(3)));
  await refuses('the head certificate missing', 'MISSING_RECORD', (db) => db.del(keys.certificate(3)));
  await refuses('a block above the head', 'UNEXPECTED_RECORD', async (db) => {
    await db.put(keys.block(4), (await db.get(keys.block(3)))!);
  });
  await refuses('head block replaced by another block', 'CORRUPT_RECORD', async (db) => {
    await db.put(keys.block(3), (await db.get(keys.block(2)))!);
  });
  await refuses('head block bytes damaged', 'CORRUPT_RECORD', async (db) => {
    const b = (await db.get(keys.block(3)))!.slice();
    b[b.length - 1]! ^= 0x01;
    await db.put(keys.block(3), b);
  });
  await refuses('head hash differs', 'CORRUPT_RECORD', (db) =>
    db.put(keys.meta('headHash'), encodeCanonical(headHash.map((x) => x ^ 1))),
  );
  await refuses('state root metadata differs', 'CORRUPT_STATE', (db) =>
    db.put(keys.meta('stateRoot'), encodeCanonical(root.map((x) => x ^ 1))),
  );
  /** Where the root node is stored: under its version (ADR 0114), found through the root's record. */
  const rootNodeKey = async (db: ChainDb) =>
    keys.treeNode(decodeCanonical((await db.get(keys.treeRootVersion(root)))!) as number, root);
  await refuses('state root node missing', 'CORRUPT_STATE', async (db) => db.del(await rootNodeKey(db)));
  await refuses('state root version missing', 'CORRUPT_STATE', (db) => db.del(keys.treeRootVersion(root)));
  await refuses('state root node damaged', 'CORRUPT_STATE', async (db) => {
    const key = await rootNodeKey(db);
    const b = (await db.get(key))!.slice();
    b[40]! ^= 0x01; // in the right child's hash
    await db.put(key, b);
  });
  await refuses("state root node's child version damaged", 'CORRUPT_STATE', async (db) => {
    const key = await rootNodeKey(db);
    const b = (await db.get(key))!.slice();
    b[b.length - 1]! ^= 0x01; // the right child's version: an address with no node
    await db.put(key, b);
  });
  await refuses('records without a schema', 'CORRUPT_METADATA', (db) => db.del(keys.meta('schemaVersion')));
  // ADR 0130: indexedFrom and schema 7 are written in one batch; one without the other is damage.
  await refuses('schema 7 without indexedFrom', 'CORRUPT_METADATA', (db) => db.del(keys.meta('indexedFrom')));
  await refuses('indexedFrom under an older schema', 'CORRUPT_METADATA', (db) =>
    db.put(keys.meta('schemaVersion'), encodeCanonical(4)),
  );
  await refuses('schema 7 without receiptsRoots (0 or 1)', 'CORRUPT_METADATA', (db) =>
    db.del(keys.meta('receiptsRoots')),
  );
  await refuses('indexedFrom above the head', 'CORRUPT_METADATA', (db) =>
    db.put(keys.meta('indexedFrom'), encodeCanonical(5)),
  );
});

t.test('a database from before schema 7 is read, and adopts the indexes once (ADR 0130)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let store = await ChainStore.open(dir);
  await store.initChain(testGenesis(validators));
  t.equal(store.indexedFrom, 1, 'a new chain indexes every height');
  t.equal(await store.meta.schemaVersion(), SCHEMA_VERSION);
  const exec = new BlockExecutor({
    store,
    handlers: counterHandlers,
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  for (let n = 1; n <= 3; n++) {
    const b = nextBlock(store.requireHead(), [counterTx(alice, n, 'x', n)], 1_700_000_000_000 + n);
    await exec.applyBlock(b, certify('vigil-test', b, validators));
  }
  await store.close();
  // What the previous version wrote: schema 4 (k = 1, no receipts roots), no indexedFrom, and no
  // receiptsRoots record (schema 7 records 0).
  const db = await openDb(dir);
  await db.put(keys.meta('schemaVersion'), encodeCanonical(4));
  await db.del(keys.meta('indexedFrom'));
  await db.del(keys.meta('receiptsRoots'));
  await db.del(keys.meta('blockEffects'));
  // A record an interrupted earlier upgrade left, of a state an older node has changed since.
  await db.put(keys.index(new TextEncoder().encode('derived/stale')), Uint8Array.of(1));
  await db.close();
  store = await ChainStore.open(dir);
  t.teardown(() => store.close());
  t.equal(store.indexedFrom, undefined, 'read as is: its indexes are incomplete');
  const derived = Array.from({ length: 5000 }, (_, i) => ({
    key: new TextEncoder().encode(`derived/${String(i).padStart(5, '0')}`),
    value: Uint8Array.of(i & 0xff),
  }));
  const replace = [new TextEncoder().encode('derived/')];
  t.equal(await store.adoptIndexes(derived, replace), 5000, 'the derived records, over more than one batch');
  t.equal(store.indexedFrom, 4, 'indexed from the height after the head');
  t.equal(await store.adoptIndexes(derived), 0, 'once');
  await store.close();
  store = await ChainStore.open(dir);
  t.equal(store.indexedFrom, 4, 'recorded');
  t.equal(await store.meta.schemaVersion(), SCHEMA_VERSION);
  t.equal(await store.meta.receiptsRoots(), false, 'receiptsRoots recorded, as 0');
  t.equal(await store.meta.blockEffects(), false, 'blockEffects recorded, as 0 (ADR 0133)');
  let count = 0;
  for await (const _ of store.state.scanIndex(new TextEncoder().encode('derived/'))) count++;
  t.equal(count, 5000, 'every record written, and the stale one replaced');
});

t.test('blockEffects is recorded with schema 8 and checked at startup (ADR 0133)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let store = await ChainStore.open(dir);
  await t.rejects(
    store.initChain({ ...testGenesis(validators), blockEffects: true }),
    { code: 'INVALID_OPTION' },
    'effects without receipts roots: a peer could not be held to its receipts',
  );
  await store.initChain({ ...testGenesis(validators), receiptsRoots: true, blockEffects: true });
  t.equal(store.blockEffects, true);
  await store.close();
  store = await ChainStore.open(dir);
  t.equal(store.blockEffects, true, 'read back');
  await store.close();
  const db = await openDb(dir);
  await db.del(keys.meta('blockEffects'));
  await db.close();
  await t.rejects(ChainStore.open(dir), { code: 'CORRUPT_METADATA' }, 'schema 8 without the record');
  const db2 = await openDb(dir);
  await db2.put(keys.meta('schemaVersion'), encodeCanonical(7));
  await db2.close();
  store = await ChainStore.open(dir);
  t.equal(store.blockEffects, false, 'a schema-7 chain is one without effects');
  await store.close();
  const db3 = await openDb(dir);
  await db3.put(keys.meta('blockEffects'), encodeCanonical(1));
  await db3.close();
  await t.rejects(ChainStore.open(dir), { code: 'CORRUPT_METADATA' }, 'the record under schema 7');
  t.not(
    Buffer.from(
      genesisHash({ ...testGenesis(validators), receiptsRoots: true, blockEffects: true }),
    ).toString('hex'),
    Buffer.from(genesisHash({ ...testGenesis(validators), receiptsRoots: true })).toString('hex'),
    'the genesis hash commits to the switch',
  );
});

t.test('a data directory that lost its CURRENT file is refused without a byte changed', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-store-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, 'chain');
  const store = await ChainStore.open(dir);
  await store.initChain(testGenesis(validators));
  const exec = new BlockExecutor({
    store,
    handlers: counterHandlers,
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  for (let n = 1; n <= 3; n++) {
    const b = nextBlock(store.requireHead(), [counterTx(alice, n, 'x', n)], 1_700_000_000_000 + n);
    await exec.applyBlock(b, certify('vigil-test', b, validators));
  }
  await store.close();
  // Reopened once: LevelDB moves its write-ahead log into a table file at open, so the chain is in
  // table files (what creating a database over them would delete), as on any node that restarted.
  await (await openDb(dir)).close();
  await rm(join(dir, 'CURRENT'));
  const snapshot = () => dataFilesSnapshot(dir);
  const before = await snapshot();
  t.ok(
    before.some((f) => f.includes('.ldb')),
    'the chain is in table files',
  );
  await t.rejects(ChainStore.open(dir, { expectChainId: 'vigil-test' }), { code: 'CORRUPT_DATABASE' });
  t.same(await snapshot(), before, 'no file created, changed or deleted');
  // Restored, it opens at its height again.
  await writeFile(join(dir, 'CURRENT'), `${(await readdir(dir)).find((f) => f.startsWith('MANIFEST-'))}\n`);
  const reopened = await ChainStore.open(dir, { expectChainId: 'vigil-test' });
  t.equal(reopened.requireHead().height, 3);
  await reopened.close();
});

t.test(
  'a directory without data files is still created afresh (first start, or one killed early)',
  async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'vigil-store-'));
    t.teardown(() => rm(base, { recursive: true, force: true }));
    const dir = join(base, 'chain');
    await mkdir(dir);
    // What a first open killed before it wrote CURRENT leaves behind.
    await writeFile(join(dir, 'LOG'), '');
    await writeFile(join(dir, 'LOCK'), '');
    const store = await ChainStore.open(dir);
    t.equal(store.head, undefined);
    await store.close();
  },
);

t.test(
  'a throwing block-write hook neither fails the commit nor leaves the head behind the disk',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-store-'));
    const store = await ChainStore.open(dir);
    t.teardown(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    await store.initChain(testGenesis(validators));
    const exec = new BlockExecutor({
      store,
      handlers: counterHandlers,
      verifier: inlineBatchVerifier(referenceVerifier),
    });
    store.onBlockWrite = () => {
      throw new Error('metrics listener failed');
    };
    const b1 = nextBlock(store.requireHead(), [counterTx(alice, 1, 'x', 1)], 1_700_000_000_001);
    const c1 = certify('vigil-test', b1, validators);
    const r = await exec.applyBlock(b1, c1);
    t.equal(r.height, 1, 'applied');
    t.equal(store.requireHead().height, 1, 'the head moved with the durable batch');
    await t.rejects(
      exec.applyBlock(b1, c1),
      { code: 'ALREADY_APPLIED' },
      'and the height is not applied twice',
    );
  },
);
