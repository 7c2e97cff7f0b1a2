import fc from 'fast-check';
import t from 'tap';
import {
  decodeTransaction,
  encodeTransaction,
  referenceVerifier,
  type Signer,
  transactionId,
} from '@vigil/consensus/wire';
import { VerifiedTransactions } from '../crypto/verified-transactions.ts';
import { counterTx, seededSigner, TEST_CHAIN } from '../exec/testing.ts';
import type { BatchVerifier } from '../verify-pool/types.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { Mempool, type MempoolLimits, MempoolRejected } from './mempool.ts';

const NOW = 1_700_000_000_000;
const signers = [1, 2, 3, 4].map((i) => seededSigner(2, i));
const [alice, bob] = signers as [Signer, Signer];

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function setup(limits: Partial<MempoolLimits> = {}, proven?: VerifiedTransactions) {
  const committed = new Map<string, number>();
  const committedIds = new Set<string>();
  let verified = 0;
  let indexReads = 0;
  const inner = inlineBatchVerifier(referenceVerifier);
  const verifier: BatchVerifier = {
    verifyBatch: (checks) => {
      verified += checks.length;
      return inner.verifyBatch(checks);
    },
  };
  let now = NOW;
  let nonceReads = 0;
  const pool = new Mempool(
    {
      chainId: TEST_CHAIN,
      now: () => now,
      committedNonce: async (s) => {
        nonceReads++;
        return committed.get(hex(s)) ?? 0;
      },
      isCommitted: async (id) => {
        indexReads++;
        return committedIds.has(hex(id));
      },
      verifier,
      ...(proven === undefined ? {} : { verified: proven }),
    },
    limits,
  );
  return {
    pool,
    committed,
    committedIds,
    verified: () => verified,
    indexReads: () => indexReads,
    nonceReads: () => nonceReads,
    setNow: (n: number) => {
      now = n;
    },
  };
}

const tx = (s: Signer, nonce: number, opts: { chainId?: string; timestamp?: number; name?: string } = {}) =>
  counterTx(s, nonce, opts.name ?? 'a', 1, { timestamp: opts.timestamp ?? NOW, ...opts });

t.test('every rejection has its code, and cheap rejections never reach the verifier', async (t) => {
  const m = setup({ maxTxBytes: 400 });
  await t.rejects(m.pool.add(new Uint8Array(401)), { code: 'TX_TOO_LARGE' });
  await t.rejects(m.pool.add(Uint8Array.of(0x83, 1)), { code: 'MALFORMED' });
  await t.rejects(m.pool.add(tx(alice, 1, { chainId: 'elsewhere' })), { code: 'WRONG_CHAIN' });
  await t.rejects(m.pool.add(tx(alice, 1, { timestamp: NOW - 11 * 60_000 })), {
    code: 'TIMESTAMP_OUT_OF_WINDOW',
  });
  await t.rejects(m.pool.add(tx(alice, 1, { timestamp: NOW + 31_000 })), { code: 'TIMESTAMP_OUT_OF_WINDOW' });
  m.committed.set(hex(alice.publicKey), 3);
  await t.rejects(m.pool.add(tx(alice, 3)), { code: 'NONCE_TOO_LOW' });
  const done = tx(bob, 1);
  // As in the store: a committed transaction's id is indexed and its nonce consumed.
  m.committedIds.add(hex(transactionId(decodeTransaction(done))));
  m.committed.set(hex(bob.publicKey), 1);
  await t.rejects(m.pool.add(done), { code: 'DUPLICATE_TX' });
  await t.rejects(
    m.pool.add(tx(bob, 1, { name: 'other' })),
    { code: 'NONCE_TOO_LOW' },
    'same nonce, other tx',
  );
  t.equal(m.verified(), 0, 'no signature verified for any of these');
  const good = decodeTransaction(tx(alice, 4));
  const forged = encodeTransaction({
    ...good,
    signature: good.signature.map((b, i) => (i === 9 ? b ^ 4 : b)),
  });
  await t.rejects(m.pool.add(forged), { code: 'BAD_SIGNATURE' });
  t.equal(m.verified(), 1);
  await m.pool.add(tx(alice, 4));
  await t.rejects(m.pool.add(tx(alice, 4)), { code: 'DUPLICATE_TX' });
  await t.rejects(m.pool.add(tx(alice, 4, { name: 'other' })), { code: 'NONCE_TAKEN' });
  t.equal(m.verified(), 2, 'the duplicate was not verified again');
  t.equal(m.indexReads(), 3, 'the tx index is read only for nonces at or below the committed one');
  t.equal(m.pool.size, 1);
  // A gossip copy of a committed transaction: refused without the index read a client's answer needs.
  await t.rejects(m.pool.add(done, { from: 'peer' }), { code: 'NONCE_TOO_LOW' });
  t.equal(m.indexReads(), 3, 'no index read for a peer');
  // Rejections are answers, not faults: no stack trace is captured for them.
  const e = await m.pool.add(done).catch((x: unknown) => x);
  t.ok(e instanceof MempoolRejected);
  t.notMatch((e as Error).stack ?? '', /\n\s+at /, 'no stack frames');
  t.ok(Error.stackTraceLimit > 0, 'the global stack trace limit is restored');
});

t.test('per-account and global bounds', async (t) => {
  const m = setup({ maxPerAccount: 2, maxTxs: 3 });
  await m.pool.add(tx(alice, 1));
  await m.pool.add(tx(alice, 2));
  await t.rejects(m.pool.add(tx(alice, 3)), { code: 'ACCOUNT_LIMIT' });
  await t.rejects(m.pool.add(tx(bob, 9)), { code: 'ACCOUNT_LIMIT' }, 'too far ahead of the committed nonce');
  await m.pool.add(tx(bob, 1));
  await t.rejects(m.pool.add(tx(signers[2]!, 1)), { code: 'MEMPOOL_FULL' });
  const bytesBound = setup({ maxBytes: 250 });
  await bytesBound.pool.add(tx(alice, 1));
  await t.rejects(bytesBound.pool.add(tx(bob, 1)), { code: 'MEMPOOL_FULL' });
});

t.test('a full pool of transactions waiting behind a gap takes the missing one in their place', async (t) => {
  // As under overload: the first nonces were refused while the pool was full, later ones got in.
  const m = setup({ maxTxs: 4 });
  for (const n of [2, 3, 4]) await m.pool.add(tx(alice, n));
  await m.pool.add(tx(bob, 3));
  t.equal(m.pool.readyCount(), 0, 'full, and nothing proposable');
  await t.rejects(m.pool.add(tx(bob, 4)), { code: 'MEMPOOL_FULL' }, 'not the missing nonce: refused');
  await t.rejects(
    m.pool.add(tx(signers[2]!, 2)),
    { code: 'MEMPOOL_FULL' },
    'a new sender with a gap: refused',
  );
  const a1 = tx(alice, 1);
  await m.pool.add(a1);
  t.equal(m.pool.size, 4);
  t.equal(m.pool.evicted, 1);
  // Alice had the most waiting (3): her highest nonce made room. Her 1-3 are now proposable.
  t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [a1, tx(alice, 2), tx(alice, 3)].map(hex));
  t.equal(m.pool.readyCount(), 3);
  await m.pool.add(tx(bob, 1));
  t.equal(m.pool.evicted, 2, "bob's own waiting nonce 3 made room for his nonce 1");
  t.equal(m.pool.readyCount(), 4);
  await t.rejects(
    m.pool.add(tx(signers[2]!, 1)),
    { code: 'MEMPOOL_FULL' },
    'everything proposable: even a ready transaction waits for room',
  );
  const verified = m.verified();
  await t.rejects(m.pool.add(tx(signers[3]!, 1)), { code: 'MEMPOOL_FULL' });
  t.equal(m.verified(), verified, 'and is refused before any signature check');
});

t.test('an admission whose nonce read two block commits overtook reads it again', async (t) => {
  let committed = 0;
  const reads: ((n: number) => void)[] = [];
  const pool = new Mempool({
    chainId: TEST_CHAIN,
    now: () => NOW,
    committedNonce: () => new Promise<number>((resolve) => reads.push(resolve)),
    isCommitted: async () => false,
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  /** The admission's next nonce read, if it makes one within a few turns (else a no-op). */
  const nextRead = async (): Promise<(n: number) => void> => {
    for (let i = 0; i < 20 && reads.length === 0; i++) await new Promise((r) => setImmediate(r));
    return reads.shift() ?? (() => undefined);
  };
  const admitted = pool.add(tx(alice, 2));
  // A block commits while the first read is out: the admission reads again after its signature check.
  const first = await nextRead();
  await pool.onBlockCommitted([]);
  first(0);
  // ...and another block, consuming alice's nonce 2 with another transaction, commits during that
  // second read, which answers what it saw before (1).
  const second = await nextRead();
  committed = 2;
  await pool.onBlockCommitted([tx(alice, 2, { name: 'other' })]);
  second(1);
  (await nextRead())(committed);
  await t.rejects(admitted, { code: 'NONCE_TOO_LOW' }, 'refused, not held forever behind a stale base');
  t.equal(pool.size, 0);
});

t.test('concurrent admissions of the same transaction admit it once', async (t) => {
  const m = setup();
  const b = tx(alice, 1);
  const results = await Promise.allSettled([m.pool.add(b), m.pool.add(b), m.pool.add(b)]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  t.equal(m.pool.size, 1);
});

t.test(
  'nextBatch: arrival order among executable txs, never a nonce gap, byte bound, in-flight',
  async (t) => {
    const m = setup();
    const a2 = tx(alice, 2);
    const b1 = tx(bob, 1);
    const a1 = tx(alice, 1);
    const a4 = tx(alice, 4);
    for (const x of [a2, b1, a1, a4]) await m.pool.add(x);
    t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [b1, a1, a2].map(hex), 'a4 waits for a3');
    t.equal(m.pool.readyCount(), 3, 'ready: b1, a1, a2 (not a4)');
    t.equal(m.pool.size, 4);
    t.same(m.pool.nextBatch(2, 1 << 20).map(hex), [b1, a1].map(hex));
    t.same(m.pool.nextBatch(10, a1.length + 1).map(hex), [b1].map(hex).slice(0, 1));
    const inFlight = new Set([hex(transactionId(decodeTransaction(a1)))]);
    t.same(
      m.pool.nextBatch(10, 1 << 20, inFlight).map(hex),
      [a2, b1].map(hex),
      'continues after an in-flight nonce',
    );
    await m.pool.add(tx(alice, 3));
    t.equal(m.pool.nextBatch(10, 1 << 20).length, 5);
  },
);

t.test('after a block: committed txs leave, stale nonces are dropped, aged txs expire', async (t) => {
  const m = setup();
  const a1 = tx(alice, 1);
  const a2 = tx(alice, 2);
  const b1 = tx(bob, 1);
  for (const x of [a1, a2, b1]) await m.pool.add(x);
  t.ok(m.pool.isVerified(transactionId(decodeTransaction(a1)), decodeTransaction(a1).signature));
  t.notOk(
    m.pool.isVerified(transactionId(decodeTransaction(a1)), new Uint8Array(64)),
    'signature must match',
  );
  // Another node's block consumed alice's nonces 1 and 2 with different transactions.
  m.committed.set(hex(alice.publicKey), 2);
  await m.pool.onBlockCommitted([tx(alice, 1, { name: 'x' }), tx(alice, 2, { name: 'x' })]);
  t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [b1].map(hex));
  m.setNow(NOW + 11 * 60_000);
  await m.pool.onBlockCommitted([]);
  t.equal(m.pool.size, 0);
  t.equal(m.pool.bytes, 0);
});

t.test('a transaction a block carried but rejected without consuming its nonce stays pending', async (t) => {
  const m = setup();
  const a1 = tx(alice, 1);
  const a2 = tx(alice, 2);
  for (const x of [a1, a2]) await m.pool.add(x);
  // A proposer after a view change took alice's 2 without her 1: the executor rejects it NONCE_GAP and
  // her committed nonce stays 0. Her 2 must still be proposable after her 1.
  await m.pool.onBlockCommitted([a2]);
  t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [a1, a2].map(hex), 'nothing was lost');
  // A copy of her 1 with a mangled signature (same id) is rejected BAD_SIGNATURE: the genuine one stays.
  const good = decodeTransaction(a1);
  const mangled = encodeTransaction({
    ...good,
    signature: good.signature.map((b, i) => (i === 0 ? b ^ 1 : b)),
  });
  await m.pool.onBlockCommitted([mangled]);
  t.equal(m.pool.size, 2);
  // Once a block executes her 1, it leaves (and her 2 becomes the next).
  m.committed.set(hex(alice.publicKey), 1);
  await m.pool.onBlockCommitted([a1]);
  t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [a2].map(hex));
});

t.test('takeStale: pending transactions due for a re-offer, oldest first, backing off', async (t) => {
  const m = setup();
  const a1 = tx(alice, 1);
  const b1 = tx(bob, 1);
  await m.pool.add(a1);
  m.setNow(NOW + 300);
  await m.pool.add(b1);
  t.same(m.pool.takeStale(500, 10), [], 'nothing is 500 ms old yet');
  m.setNow(NOW + 600);
  t.same(m.pool.takeStale(500, 10).map(hex), [a1].map(hex), 'a1 is, b1 is not');
  m.setNow(NOW + 900);
  t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex), 'a1 was just offered; b1 now is due');
  m.setNow(NOW + 2_000);
  t.same(m.pool.takeStale(500, 1).map(hex), [a1].map(hex), 'at most max, oldest first');
  t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex));
  m.committed.set(hex(alice.publicKey), 1);
  await m.pool.onBlockCommitted([a1]);
  m.setNow(NOW + 5_000);
  t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex), 'a committed transaction is never offered');
  await m.pool.add(tx(alice, 3, { timestamp: NOW + 5_000 }));
  // b1 was offered at +600 (due after 500 ms), +2,000 (1 s), +5,000 (2 s): next after 4 s, then every
  // 4 s (8 x 500 ms): a transaction waiting behind a backlog is not re-sent every half second.
  m.setNow(NOW + 8_999);
  t.same(m.pool.takeStale(500, 10), [], 'b1 is backing off; alice 3 is not proposable');
  m.setNow(NOW + 9_000);
  t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex), "alice's 3 waits for her 2: not offered");
  m.setNow(NOW + 12_999);
  t.same(m.pool.takeStale(500, 10), [], 'the interval stops doubling at 4 s');
  m.setNow(NOW + 13_000);
  t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex));
});

t.test(
  'takeStale: a transaction waiting behind a backlog is not re-offered; an overtaken one is',
  async (t) => {
    const m = setup();
    const [carol, dave] = [signers[2]!, signers[3]!];
    const a1 = tx(alice, 1);
    const b1 = tx(bob, 1);
    const c1 = tx(carol, 1, { timestamp: NOW + 700 });
    const d1 = tx(dave, 1, { timestamp: NOW + 1_200 });
    await m.pool.add(a1);
    m.setNow(NOW + 100);
    await m.pool.add(b1);
    m.setNow(NOW + 700);
    await m.pool.add(c1);
    m.setNow(NOW + 1_200);
    await m.pool.add(d1);
    // Blocks keep coming, in arrival order: a1 is included at +1,200 while b1, c1, d1 wait their turn.
    m.committed.set(hex(alice.publicKey), 1);
    await m.pool.onBlockCommitted([a1]);
    m.setNow(NOW + 1_500);
    t.same(
      m.pool.takeStale(500, 10),
      [],
      'b1 waits behind the backlog (nothing admitted after it was included)',
    );
    // c1 (admitted 600 ms after b1) is included while b1 is still here: the primary has not got b1.
    m.committed.set(hex(carol.publicKey), 1);
    await m.pool.onBlockCommitted([c1]);
    m.setNow(NOW + 1_600);
    t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex), 'b1 was overtaken: re-offered');
    t.same(m.pool.takeStale(500, 10), [], 'd1 was not overtaken, and b1 backs off');
    // No block includes anything of this pool for 500 ms: everything old enough is offered again.
    m.setNow(NOW + 2_100);
    t.same(
      m.pool.takeStale(500, 10).map(hex),
      [d1].map(hex),
      'idle for 500 ms: d1 too (b1 backs off to 1 s)',
    );
    m.setNow(NOW + 2_600);
    t.same(m.pool.takeStale(500, 10).map(hex), [b1].map(hex));
  },
);

t.test('a block touching no sender with pending transactions costs no nonce read', async (t) => {
  const m = setup();
  await m.pool.onBlockCommitted([tx(alice, 1), tx(bob, 1)]);
  t.equal(m.pool.size, 0);
  t.equal(m.nonceReads(), 0, 'empty pool: nothing to refresh');
  const b1 = tx(bob, 1);
  await m.pool.add(b1);
  const readsAfterAdmission = m.nonceReads();
  m.committed.set(hex(alice.publicKey), 1);
  await m.pool.onBlockCommitted([tx(alice, 1)]);
  t.equal(m.nonceReads(), readsAfterAdmission, 'alice has nothing pending: her nonce is not read');
  t.same(m.pool.nextBatch(10, 1 << 20).map(hex), [b1].map(hex), "bob's transaction stays");
  m.committed.set(hex(bob.publicKey), 1);
  await m.pool.onBlockCommitted([b1]);
  t.equal(m.nonceReads(), readsAfterAdmission + 1, "bob's nonce is refreshed");
  t.equal(m.pool.size, 0, 'and his committed transaction leaves');
});

t.test('property: batches are gap-free per sender and in arrival order among ready txs', async (t) => {
  const m0 = setup();
  // Pre-sign a small universe of transactions (signing dominates the cost).
  const universe = signers.map((s) => [1, 2, 3, 4, 5, 6].map((n) => tx(s, n)));
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 6 })), { maxLength: 30 }),
      fc.integer({ min: 1, max: 30 }),
      async (arrivals, maxTxs) => {
        const m = setup();
        for (const [s, n] of arrivals) await m.pool.add(universe[s]![n - 1]!).catch(() => undefined);
        const batch = m.pool.nextBatch(maxTxs, 1 << 20).map((b) => decodeTransaction(b));
        const expectNext = new Map<string, number>();
        for (const x of batch) {
          const k = hex(x.sender);
          const want = (expectNext.get(k) ?? 0) + 1;
          if (x.nonce !== want) return false;
          expectNext.set(k, x.nonce);
        }
        return batch.length <= maxTxs;
      },
    ),
    { numRuns: 60 },
  );
  t.equal(m0.pool.size, 0);
});

t.test('a full pool refuses before decoding, storage reads or signature checks (issue 9)', async (t) => {
  let storageReads = 0;
  const m = setup({ maxTxs: 2 });
  await m.pool.add(tx(alice, 1));
  await m.pool.add(tx(bob, 1));
  const verifiedBefore = m.verified();
  const counting = new Mempool(
    {
      chainId: TEST_CHAIN,
      now: () => NOW,
      committedNonce: async () => {
        storageReads++;
        return 0;
      },
      isCommitted: async () => {
        storageReads++;
        return false;
      },
      verifier: inlineBatchVerifier(referenceVerifier),
    },
    { maxTxs: 1 },
  );
  await counting.add(tx(alice, 1));
  const readsWhenFull = storageReads;
  await t.rejects(
    m.pool.add(new Uint8Array([0xff, 0x00, 0x13])),
    { code: 'MEMPOOL_FULL' },
    'garbage: no decode',
  );
  await t.rejects(counting.add(tx(bob, 1)), { code: 'MEMPOOL_FULL' });
  t.equal(storageReads, readsWhenFull, 'no storage read for a refused transaction');
  t.equal(m.verified(), verifiedBefore, 'no signature check for a refused transaction');
  t.equal(m.pool.size, 2);
});

t.test('a signature this node already verified (a proposal check) is not verified again', async (t) => {
  const proven = new VerifiedTransactions();
  const m = setup({}, proven);
  const a1 = tx(alice, 1);
  const a2 = tx(alice, 2);
  const d1 = decodeTransaction(a1, { chainId: TEST_CHAIN });
  proven.remember(transactionId(d1), d1.signature);
  await m.pool.add(a1);
  t.equal(m.verified(), 0, 'admitted without a verification');
  t.equal(proven.hits, 1);
  await m.pool.add(a2);
  t.equal(m.verified(), 1, 'a transaction not seen before is verified');
  // The id does not cover the signature: a copy of alice's 3 re-signed with bob's key reuses nothing.
  const a3 = decodeTransaction(tx(alice, 3), { chainId: TEST_CHAIN });
  proven.remember(transactionId(a3), a3.signature);
  const forged = encodeTransaction({ ...a3, signature: bob.sign(new Uint8Array([1])) });
  await t.rejects(m.pool.add(forged), { code: 'BAD_SIGNATURE' });
  t.equal(m.verified(), 2, 'the forged copy went to the verifier');
});
