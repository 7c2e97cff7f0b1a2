// ADR 0123 end to end: on a chain whose state keeps every block's receipts root, what the chain store
// serves proves each transaction's OUTCOME with the browser-safe verifier, a rejected transaction
// cannot be passed off as accepted, and every single-bit tampering is refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  type Block,
  type CommitCertificate,
  decodeTransaction,
  encodeCanonical,
  merkleLeafHash,
  referenceVerifier,
  transactionId,
} from '@vigil/consensus/wire';
import {
  decodeReceiptBytes,
  encodeReceiptBytes,
  type OutcomeProof,
  receiptsRootKey,
  verifyTransactionOutcome,
} from '@vigil/consensus/proof/index.ts';
import { BlockExecutor } from '../exec/executor.ts';
import {
  certify,
  counterHandlers,
  counterTx,
  nextBlock,
  seededSigner,
  TEST_CHAIN,
  testGenesis,
  testValidators,
} from '../exec/testing.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { ChainStore, genesisHash, SCHEMA_VERSION } from './chain-store.ts';
import { keys } from './keys.ts';
import { encodeReceipt } from './records.ts';

const validators = testValidators(4);
const keysOf = validators.map((v) => v.publicKey);
const alice = seededSigner(6, 1);
const bob = seededSigner(6, 2);

async function openChain(t: Test, receiptsRoots: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-outcome-'));
  const node = { dir, store: await ChainStore.open(dir) };
  t.teardown(async () => {
    await node.store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await node.store.initChain({ ...testGenesis(validators), receiptsRoots });
  const exec = new BlockExecutor({
    store: node.store,
    handlers: counterHandlers,
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  const apply = async (txs: Uint8Array[]) => {
    const block = nextBlock(
      node.store.requireHead(),
      txs,
      1_700_000_000_000 + node.store.requireHead().height,
    );
    const certificate = certify(TEST_CHAIN, block, validators);
    return { result: await exec.applyBlock(block, certificate), block, certificate };
  };
  return { node, apply };
}

/** Block 1: accepted, rejected by the handler, a nonce gap, garbage; block 2 cites block 1's state. */
const block1 = [
  counterTx(alice, 1, 'a', 4),
  counterTx(alice, 2, 'reject', 1),
  counterTx(bob, 7, 'b', 1),
  Uint8Array.of(0xff, 0x00),
];

async function outcomeProof(
  store: ChainStore,
  at: { block: Block; certificate: CommitCertificate },
  height: number,
  index: number,
): Promise<OutcomeProof> {
  const block = (await store.blocks.block(height))!;
  const certificate = (await store.blocks.certificate(height))!;
  const r = (await store.proveReceipt(height, index))!;
  const s = await store.proveState(receiptsRootKey(height), at.block.header.stateHeight);
  const { merkleInclusionProof } = await import('@vigil/consensus/wire');
  return {
    index,
    txProof: merkleInclusionProof(block.txs, index),
    header: block.header,
    certificate,
    receipt: r.receipt,
    receiptProof: r.proof,
    receiptsRoot: r.root,
    stateProof: s.proof,
    stateHeader: at.block.header,
    stateCertificate: at.certificate,
  };
}

const verify = (tx: Uint8Array, p: OutcomeProof) =>
  verifyTransactionOutcome({ bytes: tx }, p, () => keysOf, referenceVerifier);

t.test('each outcome is proven: accepted, rejected by the handler, a nonce gap, garbage', async (t) => {
  const { node, apply } = await openChain(t, true);
  const one = await apply(block1);
  const two = await apply([counterTx(alice, 3, 'a', 1)]);
  t.same(
    one.result.receipts.map((r) => (r.status === 'accepted' ? 'accepted' : r.code)),
    ['accepted', 'TEST_REJECTED', 'NONCE_GAP', 'MALFORMED'],
  );
  // The value in the state is the root over the stored receipt bytes, which are the protocol's encoding.
  for (const [i, r] of one.result.receipts.entries())
    t.same(encodeReceipt(r), encodeReceiptBytes(r), `receipt ${i}`);
  const stored = await node.store.state.get(receiptsRootKey(1));
  t.same(stored, encodeCanonical((await node.store.proveReceipt(1, 0))!.root));

  const expected = ['accepted', 'TEST_REJECTED', 'NONCE_GAP', 'MALFORMED'];
  for (let i = 0; i < block1.length; i++) {
    const p = await outcomeProof(node.store, two, 1, i);
    const got = verify(block1[i]!, p);
    t.equal(got.height, 1);
    t.equal(got.stateHeight, 1);
    t.equal(got.receipt.status === 'accepted' ? 'accepted' : got.receipt.code, expected[i], `tx ${i}`);
    // Only a transaction's own receipt carries its id (garbage has none).
    if (i < 3) t.same(got.receipt.txId, transactionId(decodeTransaction(block1[i]!)));
    // The same from the leaf hash, for a verifier not allowed to see the transaction.
    t.same(
      verifyTransactionOutcome({ leafHash: merkleLeafHash(block1[i]!) }, p, () => keysOf, referenceVerifier)
        .receipt,
      got.receipt,
    );
  }
});

t.test('a rejected transaction cannot be passed off as accepted; other lies are refused', async (t) => {
  const { node, apply } = await openChain(t, true);
  await apply(block1);
  const two = await apply([counterTx(alice, 3, 'a', 1)]);
  const rejected = await outcomeProof(node.store, two, 1, 1);
  const accepted = await outcomeProof(node.store, two, 1, 0);
  const txId = transactionId(decodeTransaction(block1[1]!));
  const forged = encodeReceiptBytes({ status: 'accepted', txId });
  t.throws(() => verify(block1[1]!, { ...rejected, receipt: forged }), { code: 'RECEIPT_PROOF_INVALID' });
  // Another transaction's accepted receipt, with its own path, at the rejected one's position.
  t.throws(
    () => verify(block1[1]!, { ...rejected, receipt: accepted.receipt, receiptProof: accepted.receiptProof }),
    {
      code: 'RECEIPT_PROOF_INVALID',
    },
  );
  // The accepted transaction's whole proof, offered for the rejected one.
  t.throws(() => verify(block1[1]!, accepted), { code: 'TX_PROOF_INVALID' });
  // A receipts root of the liar's choosing: nothing certified holds it.
  const { merkleRoot, merkleInclusionProof } = await import('@vigil/consensus/wire');
  const fake = [accepted.receipt, forged, rejected.receipt, rejected.receipt];
  t.throws(
    () =>
      verify(block1[1]!, {
        ...rejected,
        receipt: forged,
        receiptProof: merkleInclusionProof(fake, 1),
        receiptsRoot: merkleRoot(fake),
      }),
    { code: 'STATE_PROOF_INVALID' },
  );
  // A state proof under a header of another chain, or certified by too few validators.
  t.throws(
    () => verify(block1[1]!, { ...rejected, stateHeader: { ...rejected.stateHeader, chainId: 'other' } }),
    {
      code: 'STATE_PROOF_INVALID',
    },
  );
  const weak = { ...rejected.stateCertificate, votes: rejected.stateCertificate.votes.slice(1) };
  t.throws(() => verify(block1[1]!, { ...rejected, stateCertificate: weak }), {
    code: 'CERTIFICATE_INVALID',
  });
  // The state before block 1 (block 1's own header cites genesis): the root is not in it.
  const one = {
    block: (await node.store.blocks.block(1))!,
    certificate: (await node.store.blocks.certificate(1))!,
  };
  const early = await node.store.proveState(receiptsRootKey(1), 0);
  t.equal(early.value, undefined);
  t.throws(
    () =>
      verify(block1[1]!, {
        ...rejected,
        stateProof: early.proof,
        stateHeader: one.block.header,
        stateCertificate: one.certificate,
      }),
    { code: 'STATE_PROOF_INVALID' },
  );
});

t.test('every single-bit flip of the receipt, its path or the root is refused', async (t) => {
  const { node, apply } = await openChain(t, true);
  await apply(block1);
  const two = await apply([counterTx(alice, 3, 'a', 1)]);
  const p = await outcomeProof(node.store, two, 1, 0);
  t.ok(verify(block1[0]!, p));
  const flips = (bytes: Uint8Array) =>
    Array.from({ length: bytes.length * 8 }, (_, bit) => {
      const c = bytes.slice();
      c[bit >> 3]! ^= 1 << (bit & 7);
      return c;
    });
  let refused = 0;
  let total = 0;
  const tryIt = (q: OutcomeProof) => {
    total++;
    try {
      verify(block1[0]!, q);
    } catch (e) {
      if (
        ['RECEIPT_PROOF_INVALID', 'STATE_PROOF_INVALID', 'MALFORMED_PROOF'].includes(
          (e as { code: string }).code,
        )
      )
        refused++;
    }
  };
  for (const r of flips(p.receipt)) tryIt({ ...p, receipt: r });
  for (const r of flips(p.receiptsRoot)) tryIt({ ...p, receiptsRoot: r });
  p.receiptProof.forEach((step, i) => {
    for (const f of flips(step))
      tryIt({ ...p, receiptProof: p.receiptProof.map((s, j) => (j === i ? f : s)) });
  });
  t.ok(total > 256);
  t.equal(refused, total, 'every flip refused with a proof code');
});

t.test(
  "the rule is the genesis's: its hash, schema 6, kept across a restart, no entry without it",
  async (t) => {
    const spec = testGenesis(validators);
    t.notSame(
      genesisHash({ ...spec, receiptsRoots: true }),
      genesisHash(spec),
      'the genesis hash commits to it',
    );
    t.same(
      genesisHash({ ...spec, receiptsRoots: false }),
      genesisHash(spec),
      'chains created before keep theirs',
    );
    t.notSame(
      genesisHash({ ...spec, receiptsRoots: true, stateRootInterval: 1 }),
      genesisHash({ ...spec, stateRootInterval: 1 }),
    );

    const off = await openChain(t, false);
    await off.apply(block1);
    await off.apply([]);
    t.equal(off.node.store.receiptsRoots, false);
    t.equal(
      await off.node.store.proveReceipt(1, 0),
      undefined,
      'no receipt path to a root nothing certifies',
    );
    t.equal(await off.node.store.state.get(receiptsRootKey(1)), undefined);
    t.equal(
      await off.node.store.meta.schemaVersion(),
      SCHEMA_VERSION,
      'schema 7 (ADR 0130) without the record',
    );

    const on = await openChain(t, true);
    const a = await on.apply(block1);
    t.notSame(
      a.result.stateRoot,
      (await off.node.store.blocks.stateRootAt(1))!,
      'the entry is in the state root',
    );
    await on.apply([]);
    t.equal(await on.node.store.state.get(receiptsRootKey(2)), undefined, 'an empty block writes no entry');
    t.equal(await on.node.store.meta.schemaVersion(), SCHEMA_VERSION);
    await on.node.store.close();
    on.node.store = await ChainStore.open(on.node.dir);
    t.equal(on.node.store.receiptsRoots, true, 'recorded');

    // The record without its schema (or the reverse) is damage, refused before anything is written.
    await on.node.store.db.del(keys.meta('receiptsRoots'));
    await on.node.store.close();
    await t.rejects(ChainStore.open(on.node.dir), { code: 'CORRUPT_METADATA' });
    // Teardown closes and removes a store: give it an empty one, and remove the damaged one now.
    await rm(on.node.dir, { recursive: true, force: true });
    on.node.dir = await mkdtemp(join(tmpdir(), 'vigil-outcome-'));
    on.node.store = await ChainStore.open(on.node.dir);
  },
);

t.test('receipt bytes from a peer are decoded strictly', async (t) => {
  const id = new Uint8Array(32).fill(7);
  t.same(decodeReceiptBytes(encodeReceiptBytes({ status: 'accepted', txId: id })), {
    status: 'accepted',
    txId: id,
  });
  t.same(decodeReceiptBytes(encodeReceiptBytes({ status: 'rejected', code: 'X', txId: null })), {
    status: 'rejected',
    code: 'X',
    txId: null,
  });
  for (const bad of [
    encodeCanonical([0, id.subarray(1)]),
    encodeCanonical([2, id]),
    encodeCanonical([1, 5, id]),
    encodeCanonical([0, id, 1]),
    Uint8Array.of(0x82, 0x00, 0x58, 0x20), // truncated
    encodeCanonical([1, 'x'.repeat(300), id]),
  ]) {
    t.throws(() => decodeReceiptBytes(bad), { code: 'MALFORMED_PROOF' });
  }
  t.throws(() => receiptsRootKey(0), RangeError);
  t.same(
    Buffer.from(receiptsRootKey(258)).toString('hex'),
    `00${Buffer.from('receipts/').toString('hex')}0000000000000102`,
  );
});
