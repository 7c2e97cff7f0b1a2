import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  decodeTransaction,
  encodeTransaction,
  referenceVerifier,
  transactionId,
} from '@vigil/consensus/wire';
import { verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { ChainStore } from '../store/chain-store.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { decodeNonce, nonceKey } from './accounts.ts';
import { type BlockOutcome, BlockExecutor } from './executor.ts';
import {
  certify,
  counterHandlers,
  counterKey,
  counterTx,
  nextBlock,
  seededSigner,
  testGenesis,
  testValidators,
} from './testing.ts';

const validators = testValidators(4);
const alice = seededSigner(1, 1);
const bob = seededSigner(1, 2);
const T0 = 1_700_000_100_000;

async function setup(t: Test, extra: Partial<ConstructorParameters<typeof BlockExecutor>[0]> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-exec-'));
  const store = await ChainStore.open(dir);
  await store.initChain(testGenesis(validators));
  const committed: BlockOutcome[] = [];
  const exec = new BlockExecutor({
    store,
    handlers: counterHandlers,
    verifier: inlineBatchVerifier(referenceVerifier),
    onCommitted: (r) => committed.push(r),
    ...extra,
  });
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const apply = async (txs: Uint8Array[], options = {}) => {
    const block = nextBlock(store.requireHead(), txs, T0 + store.requireHead().height * 1000);
    return exec.applyBlock(block, certify(store.requireHead().chainId, block, validators), options);
  };
  return { dir, store, exec, committed, apply };
}

async function counter(store: ChainStore, name: string): Promise<number | undefined> {
  const v = await store.state.get(counterKey(name));
  return v === undefined ? undefined : new DataView(v.buffer, v.byteOffset).getUint32(0);
}

t.test('applies a block: receipts, state, tx index, events after commit, provable root', async (t) => {
  const { store, committed, apply } = await setup(t);
  const txs = [counterTx(alice, 1, 'a', 5), counterTx(bob, 1, 'a', 2), counterTx(alice, 2, 'b', 1)];
  const r = await apply(txs);
  t.equal(r.height, 1);
  t.same(
    r.receipts.map((x) => x.status),
    ['accepted', 'accepted', 'accepted'],
  );
  t.equal(await counter(store, 'a'), 7);
  t.equal(await counter(store, 'b'), 1);
  t.equal(decodeNonce(await store.state.get(nonceKey(alice.publicKey))), 2);
  t.same(store.requireHead().stateRoot, r.stateRoot);
  t.equal(committed.length, 1);
  t.same(
    committed[0]!.events.map((e) => e.event.data),
    [
      ['a', 5],
      ['a', 7],
      ['b', 1],
    ],
  );
  const id = transactionId(decodeTransaction(txs[1]!));
  const rec = await store.txs.get(id);
  t.same(rec, { height: 1, position: 1, receipt: { status: 'accepted', txId: id } });
  t.ok(await store.state.getIndex(new TextEncoder().encode('idx/a/1/1')));
  const p = await store.proveState(counterKey('a'));
  t.ok(verifySparseMerkleProof(r.stateRoot, counterKey('a'), p.value, p.proof));
  const txp = await store.proveTransaction(id);
  t.equal(txp?.index, 1);
});

t.test(
  'nonce rules: too low and gap are rejected without consuming; exactly last+1 is accepted',
  async (t) => {
    const { store, apply } = await setup(t);
    await apply([counterTx(alice, 1, 'a', 1)]);
    const r = await apply([
      counterTx(alice, 1, 'a', 10),
      counterTx(alice, 3, 'a', 100),
      counterTx(alice, 2, 'a', 1),
    ]);
    t.same(
      r.receipts.map((x) => (x.status === 'rejected' ? x.code : 'ok')),
      ['NONCE_TOO_LOW', 'NONCE_GAP', 'ok'],
    );
    const r2 = await apply([counterTx(alice, 2, 'a', 1000)]);
    t.same(r2.receipts[0], { status: 'rejected', code: 'NONCE_TOO_LOW', txId: r2.receipts[0]!.txId });
    t.equal(await counter(store, 'a'), 2);
    // The gapped nonce 3 was not consumed.
    const r3 = await apply([counterTx(alice, 3, 'a', 1)]);
    t.equal(r3.receipts[0]!.status, 'accepted');
  },
);

t.test('duplicates: a committed tx id, and the same tx twice in one block', async (t) => {
  const { apply } = await setup(t);
  const tx = counterTx(alice, 1, 'a', 1);
  const r = await apply([tx, tx]);
  t.same(
    r.receipts.map((x) => (x.status === 'rejected' ? x.code : 'ok')),
    ['ok', 'DUPLICATE_TX'],
  );
  const r2 = await apply([tx]);
  t.same(
    r2.receipts.map((x) => (x.status === 'rejected' ? x.code : 'ok')),
    ['DUPLICATE_TX'],
  );
});

t.test(
  'a bad-signature copy is rejected, not indexed, and cannot censor the genuine transaction',
  async (t) => {
    const { store, apply } = await setup(t);
    const genuine = counterTx(alice, 1, 'a', 1);
    const tx = decodeTransaction(genuine);
    const forged = encodeTransaction({ ...tx, signature: tx.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) });
    const r = await apply([forged]);
    t.same(r.receipts[0], { status: 'rejected', code: 'BAD_SIGNATURE', txId: transactionId(tx) });
    t.equal(await store.txs.locate(transactionId(tx)), undefined);
    t.equal(decodeNonce(await store.state.get(nonceKey(alice.publicKey))), 0);
    const r2 = await apply([genuine]);
    t.equal(r2.receipts[0]!.status, 'accepted');
  },
);

t.test('handler rejection discards its state and index writes but consumes the nonce', async (t) => {
  const { store, committed, apply } = await setup(t);
  const r = await apply([counterTx(alice, 1, 'reject', 3)]);
  t.same(r.receipts[0], { status: 'rejected', code: 'TEST_REJECTED', txId: r.receipts[0]!.txId });
  t.equal(await counter(store, 'reject'), undefined);
  t.equal(await store.state.getIndex(new TextEncoder().encode('idx/reject/1/0')), undefined);
  t.equal(decodeNonce(await store.state.get(nonceKey(alice.publicKey))), 1);
  t.equal(committed[0]!.events.length, 0);
  t.ok(await store.txs.locate(r.receipts[0]!.txId!), 'indexed: it consumed a nonce');
});

t.test('malformed bytes and another chain get framework receipts', async (t) => {
  const { apply } = await setup(t);
  const r = await apply([Uint8Array.of(1, 2, 3), counterTx(alice, 1, 'a', 1, { chainId: 'other-chain' })]);
  t.same(r.receipts, [
    { status: 'rejected', code: 'MALFORMED', txId: null },
    { status: 'rejected', code: 'WRONG_CHAIN', txId: null },
  ]);
});

async function dump(store: ChainStore): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of store.db.iterator())
    out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  return out;
}

t.test('a handler bug aborts the block and writes nothing', async (t) => {
  const { store, apply } = await setup(t);
  await apply([counterTx(alice, 1, 'a', 1)]);
  const before = await dump(store);
  await t.rejects(apply([counterTx(alice, 2, 'a', 1), counterTx(bob, 1, 'crash', 1)]), {
    code: 'HANDLER_FAILED',
  });
  t.same(await dump(store), before);
  t.equal(store.requireHead().height, 1);
});

t.test(
  'refused blocks change nothing: re-apply, gap, wrong parent, tx root, certificate, state root',
  async (t) => {
    const { store, exec, apply } = await setup(t);
    const first = nextBlock(store.requireHead(), [counterTx(alice, 1, 'a', 1)], T0);
    const firstCert = certify('vigil-test', first, validators);
    await exec.applyBlock(first, firstCert);
    const before = await dump(store);
    await t.rejects(exec.applyBlock(first, firstCert), { code: 'ALREADY_APPLIED' });

    const head = store.requireHead();
    const gap = nextBlock({ ...head, height: head.height + 1 }, [], T0);
    await t.rejects(exec.applyBlock(gap, certify('vigil-test', gap, validators)), { code: 'HEIGHT_GAP' });

    const orphan = nextBlock({ ...head, headHash: new Uint8Array(32).fill(7) }, [], T0);
    await t.rejects(exec.applyBlock(orphan, certify('vigil-test', orphan, validators)), {
      code: 'PREV_HASH_MISMATCH',
    });

    const good = nextBlock(head, [counterTx(alice, 2, 'a', 1)], T0);
    const swapped = { header: good.header, txs: [counterTx(alice, 2, 'a', 99)] };
    await t.rejects(exec.applyBlock(swapped, certify('vigil-test', swapped, validators)), {
      code: 'TX_ROOT_MISMATCH',
    });

    const cert = certify('vigil-test', good, validators);
    const weak = { ...cert, votes: cert.votes.slice(0, 2) };
    await t.rejects(exec.applyBlock(good, weak), { code: 'CERTIFICATE_INVALID' });
    const forged = {
      ...cert,
      votes: cert.votes.map((v) => ({ ...v, signature: v.signature.map((b) => b ^ 1) })),
    };
    await t.rejects(exec.applyBlock(good, forged), { code: 'CERTIFICATE_INVALID' });

    const lying = nextBlock({ ...head, stateRoot: new Uint8Array(32).fill(1) }, [], T0);
    await t.rejects(exec.applyBlock(lying, certify('vigil-test', lying, validators)), {
      code: 'STATE_ROOT_MISMATCH',
    });

    t.same(await dump(store), before, 'no refused block wrote anything');
    const r = await apply([counterTx(alice, 2, 'a', 1)]);
    t.equal(r.height, 2);
  },
);

t.test('a header may name the state root of an earlier height; a wrong one is still refused', async (t) => {
  const { store, exec, apply } = await setup(t);
  const roots = [store.requireHead().stateRoot];
  for (let i = 1; i <= 4; i++) roots.push((await apply([counterTx(alice, i, 'a', i)])).stateRoot);
  const at = (stateHeight: number, stateRoot: Uint8Array) => {
    const b = nextBlock(store.requireHead(), [], T0 + 10_000 + store.requireHead().height);
    const block = { ...b, header: { ...b.header, stateHeight, stateRoot } };
    return { block, cert: certify(store.requireHead().chainId, block, validators) };
  };
  // Heights 2 and 0: one this executor applied (kept in memory), one it never did (read from the store).
  for (const h of [2, 0]) {
    const wrong = at(h, roots[h === 2 ? 1 : 3]!);
    await t.rejects(exec.applyBlock(wrong.block, wrong.cert), { code: 'STATE_ROOT_MISMATCH' }, `height ${h}`);
  }
  const right = at(2, roots[2]!);
  t.equal((await exec.applyBlock(right.block, right.cert)).height, 5, 'the root of height 2 is accepted');
  const genesis = at(0, roots[0]!);
  t.equal((await exec.applyBlock(genesis.block, genesis.cert)).height, 6, 'and the genesis root');
});

t.test(
  'signature checks are skipped for certified catch-up and for mempool-verified transactions',
  async (t) => {
    let cached = 0;
    const { apply } = await setup(t, {
      verifiedCache: {
        isVerified: (_id, sig) => {
          cached++;
          return sig[0] !== undefined && cached === 1;
        },
      },
    });
    const r = await apply([counterTx(alice, 1, 'a', 1), counterTx(bob, 1, 'a', 1)]);
    t.equal(r.signaturesVerified, 1, 'the cached one is not verified again');
    const r2 = await apply([counterTx(alice, 2, 'a', 1), counterTx(bob, 2, 'a', 1)], {
      trustCertified: true,
    });
    t.equal(r2.signaturesVerified, 0);
    t.same(
      r2.receipts.map((x) => x.status),
      ['accepted', 'accepted'],
    );
  },
);

t.test('applyBlock says where its wall-clock time went, phase by phase', async (t) => {
  const { exec, store } = await setup(t);
  const block = nextBlock(store.requireHead(), [counterTx(alice, 1, 'a', 1)], T0 + 1000);
  const t0 = performance.now();
  const r = await exec.applyBlock(block, certify(store.requireHead().chainId, block, validators));
  const elapsed = performance.now() - t0;
  const p = r.phases!;
  t.same(Object.keys(p), ['wait', 'check', 'prepare', 'execute', 'tree', 'write']);
  t.ok(
    Object.values(p).every((ms) => ms >= 0),
    'no phase is negative',
  );
  const sum = Object.values(p).reduce((a, b) => a + b, 0);
  t.ok(sum <= elapsed + 1, `the phases (${sum.toFixed(2)} ms) fit in the call (${elapsed.toFixed(2)} ms)`);
  t.ok(p.write > 0 && p.execute > 0, 'the batch write and the execution take time');
});

t.test('the same blocks on two stores give the same roots', async (t) => {
  const a = await setup(t);
  const b = await setup(t);
  for (let i = 1; i <= 5; i++) {
    const txs = [counterTx(alice, i, `k${i % 3}`, i), counterTx(bob, i, 'x', 1)];
    const ra = await a.apply(txs);
    const rb = await b.apply(txs);
    t.same(ra.stateRoot, rb.stateRoot);
  }
});

t.test('an oversized write is a deterministic rejection, not a halt', async (t) => {
  const { store, apply } = await setup(t);
  const r = await apply([counterTx(alice, 1, 'huge', 1), counterTx(bob, 1, 'a', 1)]);
  t.same(
    r.receipts.map((x) => (x.status === 'rejected' ? x.code : 'ok')),
    ['WRITE_TOO_LARGE', 'ok'],
  );
  t.equal(await counter(store, 'huge'), undefined);
});

t.test('a throwing listener does not turn a committed block into a failure', async (t) => {
  const errors: unknown[] = [];
  const { store, apply } = await setup(t, {
    onCommitted: () => {
      throw new Error('listener bug');
    },
    onListenerError: (e) => errors.push(e),
  });
  const r = await apply([counterTx(alice, 1, 'a', 1)]);
  t.equal(r.height, 1);
  t.equal(store.requireHead().height, 1);
  t.equal(errors.length, 1);
});

t.test(
  'preverify: results are reused by applyBlock, and a block not matching its header is ignored',
  async (t) => {
    let batches = 0;
    const inner = inlineBatchVerifier(referenceVerifier);
    const { store, exec } = await setup(t, {
      verifier: {
        verifyBatch: (c) => {
          batches++;
          return inner.verifyBatch(c);
        },
      },
    });
    const good = counterTx(alice, 1, 'a', 1);
    const tx = decodeTransaction(counterTx(bob, 1, 'a', 1));
    const forged = encodeTransaction({ ...tx, signature: tx.signature.map((b, i) => (i === 3 ? b ^ 8 : b)) });
    const block = nextBlock(store.requireHead(), [good, forged], T0);
    // A block whose transactions were swapped under the same header must not poison the cache.
    exec.preverify({ header: block.header, txs: [good, good] });
    t.equal(batches, 0, 'mismatching block not verified');
    exec.preverify(block);
    await new Promise((r) => setImmediate(r));
    t.equal(batches, 1);
    const r = await exec.applyBlock(block, certify('vigil-test', block, validators));
    t.equal(batches, 1, 'applyBlock reused the pre-verification');
    t.same(
      r.receipts.map((x) => (x.status === 'rejected' ? x.code : 'ok')),
      ['ok', 'BAD_SIGNATURE'],
    );
  },
);

t.test(
  'preverify: applyBlock with other transactions under the preverified header is still TX_ROOT_MISMATCH',
  async (t) => {
    const { store, exec } = await setup(t);
    const good = counterTx(alice, 1, 'a', 1);
    const block = nextBlock(store.requireHead(), [good, counterTx(bob, 1, 'a', 1)], T0);
    exec.preverify(block);
    // Same header (so the same block hash the preverified work is keyed by), other transaction bytes:
    // the root computed by preverify must not be reused for them.
    const swapped = { header: block.header, txs: [good, counterTx(bob, 1, 'a', 2)] };
    const before = await dump(store);
    await t.rejects(exec.applyBlock(swapped, certify('vigil-test', block, validators)), {
      code: 'TX_ROOT_MISMATCH',
    });
    t.same(await dump(store), before, 'nothing written');
    // The genuine block still applies (it is verified afresh: the preverified entry was consumed).
    const r = await exec.applyBlock(block, certify('vigil-test', block, validators));
    t.same(
      r.receipts.map((x) => x.status),
      ['accepted', 'accepted'],
    );
  },
);

t.test(
  'preverify: a verifier failure fails that block without writing, and a retry verifies afresh',
  async (t) => {
    let calls = 0;
    const inner = inlineBatchVerifier(referenceVerifier);
    const { store, exec } = await setup(t, {
      verifier: {
        verifyBatch: async (c) => {
          calls++;
          if (calls === 1) throw new Error('worker died');
          return inner.verifyBatch(c);
        },
      },
    });
    const block = nextBlock(
      store.requireHead(),
      [counterTx(alice, 1, 'a', 1), counterTx(bob, 1, 'a', 1)],
      T0,
    );
    const cert = certify('vigil-test', block, validators);
    exec.preverify(block);
    const before = await dump(store);
    await t.rejects(exec.applyBlock(block, cert), { message: 'worker died' });
    t.same(await dump(store), before, 'nothing written');
    t.equal(store.requireHead().height, 0);
    const r = await exec.applyBlock(block, cert);
    t.equal(calls, 2, 'verified again, not served from the failed pre-verification');
    t.same(
      r.receipts.map((x) => x.status),
      ['accepted', 'accepted'],
    );
  },
);
