// applyCertifiedRange (ADR 0115): a range of certified blocks applied with one state-tree update and one
// batch must leave exactly the records that applying the blocks one by one leaves, except that the
// state root (and tree version) exists only at each range's end and interior heights get 'G' records.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { type Block, type CommitCertificate, makeBlock, type Signer } from '@vigil/consensus/wire';
import { verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { ChainStore } from '../store/chain-store.ts';
import { keys, Prefix } from '../store/keys.ts';
import { decodeUint, encodeUint } from '../store/records.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { referenceVerifier } from '@vigil/consensus/wire';
import { type BlockOutcome, BlockExecutor, type CertifiedBlock } from './executor.ts';
import {
  certify,
  dumpRecords,
  executeChain,
  counterHandler,
  counterKey,
  counterTx,
  seededSigner,
  TEST_CHAIN,
  testGenesis,
  testValidators,
} from './testing.ts';
import type { HandlerRegistry } from './types.ts';
import { TxType } from '@vigil/consensus/wire';

const validators = testValidators(4);
const senders = [seededSigner(7, 1), seededSigner(7, 2), seededSigner(7, 3)];
const T0 = 1_700_000_200_000;

/** The counter handler, plus "clear": deletes counter "a" (ranges must carry deletes too). */
const handlers: HandlerRegistry = new Map([
  [
    TxType.submitReadings,
    async (ctx, tx) => {
      if (tx.body[0] === 'clear') {
        ctx.state.del(counterKey('a'));
        return;
      }
      await counterHandler(ctx, tx);
    },
  ],
]);

async function openNode(t: Test, receiptsRoots = false) {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-range-'));
  let store = await ChainStore.open(dir);
  await store.initChain({ ...testGenesis(validators), receiptsRoots });
  const node = {
    dir,
    store,
    exec: new BlockExecutor({ store, handlers, verifier: inlineBatchVerifier(referenceVerifier) }),
    async reopen() {
      await node.store.close();
      store = await ChainStore.open(dir);
      node.store = store;
      node.exec = new BlockExecutor({ store, handlers, verifier: inlineBatchVerifier(referenceVerifier) });
    },
  };
  t.teardown(async () => {
    await node.store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return node;
}

/** Records a range must leave exactly as block-by-block application does. */
const SAME_RECORDS = [
  Prefix.block,
  Prefix.certificate,
  Prefix.blockHash,
  Prefix.tx,
  Prefix.receipt,
  Prefix.state,
  Prefix.index,
];

type TxSpec =
  | { kind: 'tx'; sender: number; nonce: 'next' | 'low' | 'gap'; name: string; delta: number }
  | { kind: 'repeat'; back: number }
  | { kind: 'malformed' }
  | { kind: 'wrongChain'; sender: number };

const txSpec: fc.Arbitrary<TxSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('tx' as const),
      sender: fc.integer({ min: 0, max: senders.length - 1 }),
      nonce: fc.constantFrom(
        'next' as const,
        'next' as const,
        'next' as const,
        'low' as const,
        'gap' as const,
      ),
      name: fc.constantFrom('a', 'b', 'a', 'reject', 'clear', 'huge'),
      delta: fc.integer({ min: 1, max: 9 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('repeat' as const), back: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('malformed' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('wrongChain' as const),
      sender: fc.integer({ min: 0, max: senders.length - 1 }),
    }),
  },
);

/** Turns specs into transaction bytes; `next` nonces follow what a sender has sent so far. */
function materialise(blocks: TxSpec[][]): Uint8Array[][] {
  const sent: Uint8Array[] = [];
  const nonce = senders.map(() => 0);
  return blocks.map((specs) =>
    specs.map((s) => {
      let bytes: Uint8Array;
      if (s.kind === 'repeat')
        bytes = sent.length === 0 ? Uint8Array.of(0) : sent[sent.length - 1 - (s.back % sent.length)]!;
      else if (s.kind === 'malformed') bytes = Uint8Array.of(0xff, 0x00);
      else if (s.kind === 'wrongChain')
        bytes = counterTx(senders[s.sender]!, 1, 'a', 1, { chainId: 'other' });
      else {
        const signer: Signer = senders[s.sender]!;
        const n =
          s.nonce === 'next'
            ? ++nonce[s.sender]!
            : s.nonce === 'low'
              ? nonce[s.sender]!
              : nonce[s.sender]! + 2;
        bytes = counterTx(signer, Math.max(n, 0), s.name, s.delta, { timestamp: T0 + n });
      }
      sent.push(bytes);
      return bytes;
    }),
  );
}

/** Applies each block on its own and returns the certified chain with each block's outcome. */
function reference(node: Awaited<ReturnType<typeof openNode>>, blocks: Uint8Array[][]) {
  return executeChain(node.exec, node.store, blocks, validators, (h) => T0 + 1000 * h);
}

/** Applies `chain` in ranges of at most the given sizes (cycled) and returns the ranges' heights. */
async function inRanges(
  node: Awaited<ReturnType<typeof openNode>>,
  chain: readonly CertifiedBlock[],
  sizes: readonly number[],
): Promise<{ ranges: number[][]; outcomes: BlockOutcome[] }> {
  const ranges: number[][] = [];
  const outcomes: BlockOutcome[] = [];
  let rest = chain;
  for (let i = 0; rest.length > 0; i++) {
    const r = await node.exec.applyCertifiedRange(rest, { maxBlocks: sizes[i % sizes.length]! });
    ranges.push(r.blocks.map((b) => b.height));
    outcomes.push(...r.blocks);
    rest = rest.slice(r.blocks.length);
  }
  return { ranges, outcomes };
}

const plain = (o: BlockOutcome) => ({ height: o.height, receipts: o.receipts, events: o.events });

t.test('a range leaves what block-by-block application leaves, roots only at range ends', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(txSpec, { maxLength: 7 }), { minLength: 1, maxLength: 9 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
      // With receipts roots (ADR 0123) every block writes one more state entry inside the range's overlay.
      fc.boolean(),
      async (specs, sizes, receiptsRoots) => {
        const a = await openNode(t, receiptsRoots);
        const b = await openNode(t, receiptsRoots);
        const blocks = materialise(specs);
        const ref = await reference(a, blocks);
        const got = await inRanges(b, ref.chain, sizes);

        const ha = a.store.requireHead();
        const hb = b.store.requireHead();
        t.equal(hb.height, ha.height);
        t.same(hb.headHash, ha.headHash);
        t.same(hb.stateRoot, ha.stateRoot, 'same state root at the end');
        t.same(got.outcomes.map(plain), ref.outcomes.map(plain), 'same receipts and events, block by block');
        t.same(
          await dumpRecords(b.store, SAME_RECORDS),
          await dumpRecords(a.store, SAME_RECORDS),
          'same records',
        );
        for (const range of got.ranges) {
          const end = range[range.length - 1]!;
          t.same(
            await b.store.blocks.stateRootAt(end),
            await a.store.blocks.stateRootAt(end),
            `root at ${end}`,
          );
          for (const h of range.slice(0, -1)) {
            t.equal(await b.store.blocks.stateRootAt(h), undefined, `no root at interior height ${h}`);
            t.equal(await b.store.blocks.rangeEndOf(h), end, `G record of ${h}`);
          }
          t.equal(await b.store.blocks.rangeEndOf(end), undefined);
        }
        await b.reopen();
        t.same(
          b.store.requireHead().stateRoot,
          ha.stateRoot,
          'reopens at the same head (startup checks pass)',
        );
        for (const name of ['a', 'b']) {
          t.same(
            await b.store.verifiedState(counterKey(name)),
            await a.store.state.get(counterKey(name)),
            `counter ${name}: the flat copy checks against the tree`,
          );
        }
      },
    ),
    { numRuns: 15 },
  );
});

/** Three plain blocks of counter transactions, certified, built on a reference node. */
async function threeBlocks(t: Test) {
  const a = await openNode(t);
  const blocks = [1, 2, 3, 4].map((n) => [
    counterTx(senders[0]!, n, 'a', n),
    counterTx(senders[1]!, n, 'b', n),
  ]);
  return { a, ...(await reference(a, blocks)) };
}

t.test('a block that does not follow ends the range before it; the next call rejects it', async (t) => {
  const { chain } = await threeBlocks(t);
  const b = await openNode(t);
  const forged: CertifiedBlock[] = chain.map((c, i) =>
    i === 2 ? { ...c, certificate: { ...c.certificate, votes: c.certificate.votes.slice(0, 2) } } : c,
  );
  const first = await b.exec.applyCertifiedRange(forged);
  t.same(
    first.blocks.map((x) => x.height),
    [1, 2],
    'the blocks before it are applied',
  );
  await t.rejects(b.exec.applyCertifiedRange(forged.slice(2)), {
    name: 'BlockRejected',
    code: 'CERTIFICATE_INVALID',
  });
  t.equal(b.store.requireHead().height, 2, 'nothing of the rejected call was written');
});

t.test('a vote whose signature does not verify (checked in one batch for the range) ends it', async (t) => {
  const { chain } = await threeBlocks(t);
  const b = await openNode(t);
  const bad = chain[1]!.certificate;
  const signature = bad.votes[1]!.signature.slice();
  signature[5]! ^= 1;
  const forged: CertifiedBlock[] = chain.map((c, i) =>
    i === 1
      ? {
          ...c,
          certificate: {
            ...bad,
            votes: bad.votes.map((v, j) => (j === 1 ? { ...v, signature } : v)),
          },
        }
      : c,
  );
  const first = await b.exec.applyCertifiedRange(forged);
  t.same(
    first.blocks.map((x) => x.height),
    [1],
  );
  await t.rejects(b.exec.applyCertifiedRange(forged.slice(1)), {
    name: 'BlockRejected',
    code: 'CERTIFICATE_INVALID',
  });
  t.equal(b.store.requireHead().height, 1);
  const rest = await b.exec.applyCertifiedRange(chain.slice(1));
  t.equal(rest.height, 4, 'the genuine certificates apply');
});

t.test('a wrong root claimed for a height before the range rejects the range, nothing written', async (t) => {
  const { chain } = await threeBlocks(t);
  const b = await openNode(t);
  await b.exec.applyCertifiedRange(chain.slice(0, 1));
  const bad = chain[1]!.block;
  const header = { ...bad.header, stateRoot: new Uint8Array(32).fill(7) };
  const block: Block = makeBlock(header, bad.txs);
  const certificate: CommitCertificate = certify(TEST_CHAIN, block, validators);
  await t.rejects(b.exec.applyCertifiedRange([{ block, certificate }]), {
    name: 'BlockRejected',
    code: 'STATE_ROOT_MISMATCH',
  });
  t.equal(b.store.requireHead().height, 1);
});

t.test('later blocks may cite a range interior on their certificate; proofs there are refused', async (t) => {
  const { a, chain } = await threeBlocks(t);
  const b = await openNode(t);
  const r = await b.exec.applyCertifiedRange(chain.slice(0, 3));
  t.equal(r.height, 3);
  t.equal(
    r.blocks[2]!.stateRoot !== undefined && r.blocks[0]!.stateRoot === undefined,
    true,
    'a root for the last only',
  );
  // Block 4 as a pipelined primary would make it: citing the state after block 2, inside the range.
  const head = b.store.requireHead();
  const txs = chain[3]!.block.txs;
  const block = makeBlock(
    { ...chain[3]!.block.header, stateHeight: 2, stateRoot: (await a.store.blocks.stateRootAt(2))! },
    [...txs],
  );
  const res = await b.exec.applyBlock(block, certify(TEST_CHAIN, block, validators), {
    trustCertified: true,
  });
  t.equal(
    res.height,
    head.height + 1,
    'accepted: the certificate vouches for a root this node never computed',
  );
  // A height with neither a root nor a range record is still refused.
  const a2 = await openNode(t);
  for (const c of chain.slice(0, 3)) await a2.exec.applyBlock(c.block, c.certificate);
  await a2.store.db.del(keys.stateRoot(2));
  await a2.reopen(); // a fresh executor: no root held in memory
  await t.rejects(
    a2.exec.applyBlock(block, certify(TEST_CHAIN, block, validators), { trustCertified: true }),
    { name: 'BlockRejected', code: 'STATE_ROOT_MISMATCH' },
  );

  await t.rejects(b.store.proveState(counterKey('a'), 2), { code: 'STATE_NOT_RETAINED' });
  const p = await b.store.proveState(counterKey('a'), 3);
  t.ok(verifySparseMerkleProof(p.root, counterKey('a'), p.value, p.proof), 'the range end is provable');
});

t.test('schema: a range of two or more marks the database 3 in its batch; 2 is still read', async (t) => {
  const { chain } = await threeBlocks(t);
  const b = await openNode(t);
  // A database written by the previous version (schema 2, no 'G' records, nor ADR 0130's indexedFrom).
  await b.store.db.put(keys.meta('schemaVersion'), encodeUint(2));
  await b.store.db.del(keys.meta('indexedFrom'));
  await b.store.db.del(keys.meta('receiptsRoots'));
  await b.store.db.del(keys.meta('blockEffects'));
  await b.reopen();
  await b.exec.applyCertifiedRange(chain.slice(0, 1));
  t.equal(
    decodeUint((await b.store.db.get(keys.meta('schemaVersion')))!, 'v'),
    2,
    'a one-block range writes no G',
  );
  await b.exec.applyCertifiedRange(chain.slice(1, 3));
  t.equal(
    decodeUint((await b.store.db.get(keys.meta('schemaVersion')))!, 'v'),
    3,
    'marked 3 with its first G',
  );
  await b.reopen();
  t.equal(b.store.requireHead().height, 3);
});

t.test('limits: endAfter, maxBlocks and maxTxs end a range', async (t) => {
  const { chain } = await threeBlocks(t);
  const b = await openNode(t);
  const r1 = await b.exec.applyCertifiedRange(chain, {
    endAfter: (events) => events.some((e) => e.height === 2),
  });
  t.same(
    r1.blocks.map((x) => x.height),
    [1, 2],
    'endAfter: stops after the block whose events match',
  );
  const r2 = await b.exec.applyCertifiedRange(chain.slice(2), { maxTxs: 3 });
  t.same(
    r2.blocks.map((x) => x.height),
    [3],
    'maxTxs: a block that would exceed it starts the next range',
  );
  const r3 = await b.exec.applyCertifiedRange(chain.slice(3), { maxTxs: 1 });
  t.same(
    r3.blocks.map((x) => x.height),
    [4],
    'but a range always takes its first block',
  );
});
