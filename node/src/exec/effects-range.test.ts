// Catch-up from effects records (ADR 0133): a certified range applied from the records a peer sent
// with its blocks must leave exactly the records that executing the blocks leaves (state, index,
// receipts, transaction index, blocks, the effects records themselves), and a record that is wrong in
// any way must never be written: the range is then executed instead, with the same result.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import {
  type Block,
  encodeCommitCertificate,
  referenceVerifier,
  type Signer,
  TxType,
} from '@vigil/consensus/wire';
import { blockEffectsKey, decodeBlockEffects, encodeBlockEffects } from '@vigil/consensus/proof/effects.ts';
import { ChainStore } from '../store/chain-store.ts';
import { keys, Prefix, prefixRange } from '../store/keys.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { BlockSync, decodeSyncEntry, encodeSyncEntry, serveBlockRange } from '../validator/block-sync.ts';
import { storedBlockBytes } from './block-bytes.ts';
import {
  effectsDigestValue,
  encodeEffectsRecord,
  rememberBlockEffects,
  syncedEffectsOf,
} from './block-effects.ts';
import { type BlockOutcome, BlockExecutor, type CertifiedBlock } from './executor.ts';
import {
  dumpRecords,
  executeChain,
  counterHandler,
  counterKey,
  counterTx,
  seededSigner,
  testGenesis,
  testValidators,
} from './testing.ts';
import type { HandlerRegistry } from './types.ts';

const validators = testValidators(4);
const senders = [seededSigner(9, 1), seededSigner(9, 2), seededSigner(9, 3)];
const T0 = 1_700_000_300_000;
const utf8 = new TextEncoder();

/** The counter handler, plus deletes: "clear" drops counter "a", "forget" an index entry of "a". */
const handlers: HandlerRegistry = new Map([
  [
    TxType.submitReadings,
    async (ctx, tx) => {
      if (tx.body[0] === 'clear') return ctx.state.del(counterKey('a'));
      if (tx.body[0] === 'forget') return ctx.index.del(utf8.encode(`idx/a/${ctx.height - 1}/0`));
      await counterHandler(ctx, tx);
    },
  ],
]);

async function openNode(t: Test, k = 1, opts: { effectsApart?: boolean; chainId?: string } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-effects-'));
  const effectsPath = opts.effectsApart === true ? join(dir, 'effects') : undefined;
  const store = await ChainStore.open(join(dir, 'chain'), effectsPath !== undefined ? { effectsPath } : {});
  await store.initChain({
    ...testGenesis(validators, opts.chainId),
    stateRootInterval: k,
    receiptsRoots: true,
    blockEffects: true,
  });
  const exec = new BlockExecutor({ store, handlers, verifier: inlineBatchVerifier(referenceVerifier) });
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, exec, dir };
}
type Node = Awaited<ReturnType<typeof openNode>>;

/** What catch-up must leave exactly as execution does (roots and tree nodes differ only by ranges). */
const SAME_RECORDS = [
  Prefix.block,
  Prefix.certificate,
  Prefix.blockHash,
  Prefix.tx,
  Prefix.receipt,
  Prefix.state,
  Prefix.index,
  Prefix.effects,
];

const NAMES = ['a', 'b', 'a', 'reject', 'clear', 'forget', 'huge'] as const;

/** Blocks of signed counter transactions, some with stale or skipped nonces, repeats and junk. */
function workload(seed: number, blocks: number): Uint8Array[][] {
  const rnd = fc.sample(
    fc.array(
      fc.array(
        fc.record({
          sender: fc.nat(senders.length - 1),
          name: fc.constantFrom(...NAMES),
          nonce: fc.constantFrom('next', 'next', 'next', 'low', 'gap', 'repeat', 'junk'),
          delta: fc.integer({ min: 1, max: 9 }),
        }),
        { maxLength: 6 },
      ),
      { minLength: blocks, maxLength: blocks },
    ),
    { seed, numRuns: 1 },
  )[0]!;
  const nonce = senders.map(() => 0);
  const sent: Uint8Array[] = [];
  return rnd.map((specs) =>
    specs.map((s) => {
      if (s.nonce === 'junk') return Uint8Array.of(0xff, 0x00);
      if (s.nonce === 'repeat' && sent.length > 0) return sent[sent.length - 1]!;
      const signer: Signer = senders[s.sender]!;
      const n =
        s.nonce === 'low' ? nonce[s.sender]! : s.nonce === 'gap' ? nonce[s.sender]! + 2 : ++nonce[s.sender]!;
      const bytes = counterTx(signer, Math.max(n, 0), s.name, s.delta, { timestamp: T0 + n });
      sent.push(bytes);
      return bytes;
    }),
  );
}

/** Executes the blocks one by one on `node` (the peer that serves them) and returns the chain. */
function execute(node: Node, blocks: Uint8Array[][]) {
  return executeChain(node.exec, node.store, blocks, validators, (h) => T0 + 1000 * h);
}

/**
 * The chain as a syncing node receives it: fresh block objects (as decoded from the wire) carrying the
 * serving node's effects records, each passed through `tamper` first.
 */
async function served(
  peer: Node,
  chain: readonly CertifiedBlock[],
  tamper: (height: number, record: Uint8Array) => Uint8Array | undefined = (_, r) => r,
): Promise<CertifiedBlock[]> {
  const out: CertifiedBlock[] = [];
  for (const { block, certificate } of chain) {
    const copy: Block = { header: { ...block.header }, txs: [...block.txs] };
    const record = await peer.store.blocks.effects(block.header.height);
    if (record !== undefined) {
      const sent = tamper(block.header.height, record);
      if (sent !== undefined) rememberBlockEffects(copy, sent);
    }
    out.push({ block: copy, certificate });
  }
  return out;
}

async function catchUp(
  node: Node,
  chain: readonly CertifiedBlock[],
  maxBlocks: number,
): Promise<BlockOutcome[]> {
  const outcomes: BlockOutcome[] = [];
  let rest = chain;
  while (rest.length > 0) {
    const r = await node.exec.applyCertifiedRange(rest, { maxBlocks });
    outcomes.push(...r.blocks);
    rest = rest.slice(r.blocks.length);
  }
  return outcomes;
}

const plain = (o: BlockOutcome) => ({ height: o.height, receipts: o.receipts, events: o.events });

async function sameAsExecution(t: Test, synced: Node, peer: Node, what: string): Promise<void> {
  const a = peer.store.requireHead();
  const b = synced.store.requireHead();
  t.equal(b.height, a.height, `${what}: height`);
  t.same(b.stateRoot, a.stateRoot, `${what}: state root`);
  t.same(
    await dumpRecords(synced.store, SAME_RECORDS),
    await dumpRecords(peer.store, SAME_RECORDS),
    `${what}: same records`,
  );
}

t.test('every block stores its effects record and commits to its digest in the state', async (t) => {
  const peer = await openNode(t);
  const { chain, outcomes } = await execute(peer, workload(1, 6));
  for (const [i, { block }] of chain.entries()) {
    const h = block.header.height;
    const record = await peer.store.blocks.effects(h);
    if (block.txs.length === 0) {
      t.equal(record, undefined, `block ${h} without transactions: no record`);
      continue;
    }
    t.ok(record, `block ${h}: record stored`);
    t.same(
      await peer.store.state.get(blockEffectsKey(h)),
      effectsDigestValue(record!),
      `block ${h}: digest in the state`,
    );
    const decoded = decodeBlockEffects(record!, {
      maxBytes: 1 << 24,
      maxKeyBytes: 1024,
      maxValueBytes: 1 << 16,
    });
    t.same(encodeBlockEffects(decoded), record, `block ${h}: the direct encoding is the canonical one`);
    t.equal(decoded.receipts.length, block.txs.length, `block ${h}: a receipt per transaction`);
    t.same(
      decoded.events.map((e) => e.kind),
      outcomes[i]!.events.map((e) => e.event.kind),
      `block ${h}: the events`,
    );
  }
});

t.test('the direct encoder writes what the canonical encoder writes', async (t) => {
  const w = (k: string, v?: string) => ({
    key: utf8.encode(k),
    value: v === undefined ? undefined : utf8.encode(v.repeat(40)),
  });
  const stateWrites = [w('s/1', 'x'), w('s/2'), w('s/3', 'y'.repeat(300))];
  const indexWrites = [w('i/1', 'z'), w('i/2')];
  const events = [{ position: 3, event: { kind: 'alertRaised', data: [utf8.encode('p'), 7, 'why', null] } }];
  const receipts = [Uint8Array.of(0x82, 0x00, 0x41, 0x01), new Uint8Array(300)];
  const direct = encodeEffectsRecord(stateWrites, indexWrites, events, receipts);
  t.same(
    direct,
    encodeBlockEffects({
      stateWrites,
      indexWrites,
      events: events.map((e) => ({ position: e.position, kind: e.event.kind, data: e.event.data })),
      receipts,
    }),
  );
  t.same(
    encodeEffectsRecord([], [], [], []),
    encodeBlockEffects({ stateWrites: [], indexWrites: [], events: [], receipts: [] }),
  );
});

t.test('a range applied from effects records leaves exactly what execution leaves', async (t) => {
  for (const [seed, k, maxBlocks] of [
    [2, 1, 4],
    [3, 1, 64],
    [4, 4, 8],
    [5, 2, 3],
  ] as const) {
    const peer = await openNode(t, k);
    const { chain, outcomes } = await execute(peer, workload(seed, 14));
    const node = await openNode(t, k);
    const got = await catchUp(node, await served(peer, chain), maxBlocks);
    await sameAsExecution(t, node, peer, `seed ${seed}, k ${k}`);
    t.same(got.map(plain), outcomes.map(plain), `seed ${seed}: the same receipts and events, block by block`);
    const stats = node.exec.effectsRangeStats();
    t.ok(
      stats.blocks > 0,
      `seed ${seed}: blocks were applied from records (${stats.blocks} of ${chain.length})`,
    );
    t.notOk(stats.skipped.root, `seed ${seed}: no record was refused`);
  }
});

t.test('a record that is wrong in any way is never written: the range is executed instead', async (t) => {
  const peer = await openNode(t);
  const { chain } = await execute(peer, workload(6, 10));
  const withTxs = chain.filter((c) => c.block.txs.length > 0).map((c) => c.block.header.height);
  const victim = withTxs[1]!;
  const tampers: [string, (record: Uint8Array) => Uint8Array | undefined][] = [
    [
      'a flipped bit',
      (r) => {
        const c = Uint8Array.from(r);
        c[Math.floor(c.length / 2)]! ^= 1;
        return c;
      },
    ],
    [
      'a state write changed',
      (r) => {
        const e = decodeBlockEffects(r, { maxBytes: 1 << 24, maxKeyBytes: 1024, maxValueBytes: 1 << 16 });
        const w = e.stateWrites.find((x) => x.value !== undefined && x.value.length > 0);
        if (w) w.value = Uint8Array.from(w.value!, (b, i) => (i === 0 ? b ^ 0x80 : b));
        return encodeBlockEffects(e);
      },
    ],
    [
      'an index write dropped',
      (r) => {
        const e = decodeBlockEffects(r, { maxBytes: 1 << 24, maxKeyBytes: 1024, maxValueBytes: 1 << 16 });
        e.indexWrites.push({ key: utf8.encode('idx/forged'), value: Uint8Array.of(1) });
        return encodeBlockEffects(e);
      },
    ],
    [
      'an event forged',
      (r) => {
        const e = decodeBlockEffects(r, { maxBytes: 1 << 24, maxKeyBytes: 1024, maxValueBytes: 1 << 16 });
        e.events = e.events.map((ev) => ({ ...ev, data: ['forged', 1] }));
        if (e.events.length === 0) e.stateWrites = [];
        return encodeBlockEffects(e);
      },
    ],
    [
      'a receipt changed',
      (r) => {
        const e = decodeBlockEffects(r, { maxBytes: 1 << 24, maxKeyBytes: 1024, maxValueBytes: 1 << 16 });
        e.receipts[0] = Uint8Array.of(0x83, 0x01, 0x62, 0x4e, 0x4f, 0xf6);
        return encodeBlockEffects(e);
      },
    ],
    ['not CBOR', () => Uint8Array.of(0xff)],
    ['missing', () => undefined],
  ];
  for (const [what, tamper] of tampers) {
    const node = await openNode(t);
    await catchUp(node, await served(peer, chain, (h, r) => (h === victim ? tamper(r) : r)), 64);
    await sameAsExecution(t, node, peer, what);
    const stats = node.exec.effectsRangeStats();
    const refused = Object.values(stats.skipped).reduce((a, b) => a + (b ?? 0), 0);
    t.ok(refused > 0, `${what}: refused (${JSON.stringify(stats.skipped)})`);
  }
});

t.test('without a later certified header citing its end, a range is executed', async (t) => {
  const peer = await openNode(t);
  const { chain } = await execute(peer, workload(7, 3));
  const node = await openNode(t);
  // Only the last block: nothing after it cites the state it leads to.
  await catchUp(node, await served(peer, chain.slice(0, 2)), 64);
  const last = await served(peer, chain.slice(2));
  await node.exec.applyCertifiedRange(last);
  await sameAsExecution(t, node, peer, 'last block');
  t.ok((node.exec.effectsRangeStats().skipped.noCitation ?? 0) > 0, 'counted as noCitation');
});

t.test('a citing block whose certificate does not verify is not trusted', async (t) => {
  const peer = await openNode(t);
  const { chain } = await execute(peer, workload(8, 5));
  const node = await openNode(t);
  const items = await served(peer, chain);
  const citing = items[items.length - 1]!;
  // A header citing a forged root, "certified" by too few votes: it must not be used as the target.
  items[items.length - 1] = {
    block: { ...citing.block, header: { ...citing.block.header, stateRoot: new Uint8Array(32).fill(7) } },
    certificate: { ...citing.certificate, votes: citing.certificate.votes.slice(0, 1) },
  };
  const r = await node.exec.applyCertifiedRange(items, { maxBlocks: 64 });
  t.ok(r.height >= 1, 'still applied, by execution');
  t.equal(node.exec.effectsRangeStats().blocks, 0, 'nothing from records');
  t.same(
    node.store.requireHead().stateRoot,
    await peer.store.blocks.stateRootAt(r.height),
    'the executed root',
  );
  t.ok((node.exec.effectsRangeStats().skipped.citation ?? 0) > 0, 'counted as citation');
});

t.test('served effects are stored under the E prefix, one record per block with transactions', async (t) => {
  const peer = await openNode(t);
  const { chain } = await execute(peer, workload(9, 4));
  let n = 0;
  for await (const _ of peer.store.db.keys(prefixRange(Prefix.effects))) n++;
  t.equal(n, chain.filter((c) => c.block.txs.length > 0).length);
  t.same(keys.effects(3)[0], Prefix.effects);
});

t.test(
  'block sync end to end: served entries carry records; a lying peer costs work, never state',
  async (t) => {
    const peer = await openNode(t);
    const { chain } = await execute(peer, workload(10, 40));
    const target = peer.store.requireHead().height;
    const node = await openNode(t);
    let lies = 0;
    const sync = new BlockSync({
      peers: {
        connected: () => ['honest', 'liar'],
        requestStatus: async () => ({
          height: target,
          view: 0,
          checkpoint: { height: 0, digest: new Uint8Array(32) },
        }),
        requestBlocks: async (p, fromHeight, count) => {
          const entries = await serveBlockRange(peer.store, { fromHeight, count });
          if (p !== 'liar') return entries;
          // The liar re-encodes every entry with its record's first state write changed.
          return entries.map((bytes) => {
            const { block, certificate } = decodeSyncEntry(bytes);
            const record = syncedEffectsOf(block);
            if (record === undefined) return bytes;
            const e = decodeBlockEffects(record, {
              maxBytes: 1 << 24,
              maxKeyBytes: 1024,
              maxValueBytes: 1 << 16,
            });
            const w = e.stateWrites.find((x) => x.value !== undefined && x.value.length > 0);
            if (w === undefined) return bytes;
            w.value = Uint8Array.from(w.value!, (b, i) => (i === 0 ? b ^ 1 : b));
            lies++;
            return encodeSyncEntry(
              storedBlockBytes(block),
              encodeCommitCertificate(certificate),
              encodeBlockEffects(e),
            );
          });
        },
      },
      appliedHeight: () => node.store.requireHead().height,
      // As the validator has it: the newest root the batch's headers cite (k = 1 here).
      citedThrough: (blocks) => Math.max(...blocks.map((b) => b.block.header.stateHeight)),
      apply: async (blocks) => {
        let rest = blocks.filter((b) => b.block.header.height > node.store.requireHead().height);
        while (rest.length > 0) {
          const r = await node.exec.applyCertifiedRange(rest);
          rest = rest.slice(r.blocks.length);
        }
        return node.store.requireHead().height;
      },
    });
    t.equal(await sync.catchUp(), target, 'caught up');
    t.ok(lies > 0, `the liar served ${lies} tampered records`);
    await sameAsExecution(t, node, peer, 'after a lying peer');
    const stats = node.exec.effectsRangeStats();
    t.ok(stats.blocks > 0, `ranges from the honest peer's records: ${JSON.stringify(stats)}`);
    t.ok((stats.skipped.root ?? 0) > 0, "the liar's ranges refused and executed");
    t.ok(
      (stats.skipped.noCitation ?? 0) <= 1,
      'held blocks were cited by the next batch: only the tip lacks a citation',
    );
    t.equal(chain.length, target);
  },
);

t.test(
  'ADR 0135: records in a store of their own, none in the chain database; served and applied alike',
  async (t) => {
    const work = workload(11, 12);
    const inline = await openNode(t);
    const { chain } = await execute(inline, work);
    const peer = await openNode(t, 1, { effectsApart: true });
    await execute(peer, work);
    await peer.store.effectsFlushed();
    let inMain = 0;
    for await (const _ of peer.store.db.keys(prefixRange(Prefix.effects))) inMain++;
    t.equal(inMain, 0, 'no record in the chain database');
    for (const { block } of chain) {
      const h = block.header.height;
      t.same(
        await peer.store.blocks.effects(h),
        await inline.store.blocks.effects(h),
        `block ${h}: the same record`,
      );
    }
    t.same(peer.store.requireHead().stateRoot, inline.store.requireHead().stateRoot, 'the same state root');
    // A node catching up from it, keeping its own records apart too.
    const node = await openNode(t, 1, { effectsApart: true });
    await catchUp(node, await served(peer, chain), 64);
    await node.store.effectsFlushed();
    await sameAsExecution(t, node, peer, 'synced from records kept apart');
    t.ok(node.exec.effectsRangeStats().blocks > 0, 'ranges were applied from the records');
    for (const { block } of chain) {
      const h = block.header.height;
      t.same(
        await node.store.blocks.effects(h),
        await peer.store.blocks.effects(h),
        `block ${h}: record kept by the synced node`,
      );
    }
    t.equal(peer.store.effectsWritesLost + node.store.effectsWritesLost, 0, 'no write lost');
  },
);

t.test(
  'ADR 0135: the store outlives restarts, forgets another chain, and its loss costs only records',
  async (t) => {
    const peer = await openNode(t, 1, { effectsApart: true });
    const { chain } = await execute(peer, workload(12, 6));
    const h = chain.find((c) => c.block.txs.length > 0)!.block.header.height;
    const record = await peer.store.blocks.effects(h);
    t.ok(record, 'a record');
    await peer.store.close();
    const chainDir = join(peer.dir, 'chain');
    const effectsPath = join(peer.dir, 'effects');
    let again = await ChainStore.open(chainDir, { effectsPath });
    t.same(await again.blocks.effects(h), record, 'read again after a restart');
    await again.close();
    // The directory is lost: the node opens, without the records (peers then execute those blocks).
    await rm(effectsPath, { recursive: true, force: true });
    again = await ChainStore.open(chainDir, { effectsPath });
    t.equal(await again.blocks.effects(h), undefined, 'a lost store: the record is absent, nothing fails');
    t.equal(again.requireHead().height, chain.length, 'the chain itself is intact');
    await again.close();
    // Records of another chain in the directory are dropped when a chain store binds it.
    const other = await openNode(t, 1, { effectsApart: true, chainId: 'vigil-other' });
    await execute(other, workload(12, 6));
    await other.store.close();
    await rm(effectsPath, { recursive: true, force: true });
    await cp(join(other.dir, 'effects'), effectsPath, { recursive: true });
    again = await ChainStore.open(chainDir, { effectsPath });
    t.equal(await again.blocks.effects(h), undefined, "another chain's records are not served");
    await again.close();
    // Records written in the chain database before the store existed are still served.
    const legacy = await openNode(t);
    await execute(legacy, workload(12, 6));
    const old = await legacy.store.blocks.effects(h);
    await legacy.store.close();
    again = await ChainStore.open(join(legacy.dir, 'chain'), { effectsPath: join(legacy.dir, 'effects') });
    t.same(await again.blocks.effects(h), old, 'a record kept in the chain database is read from there');
    await again.close();
  },
);
