import t from 'tap';
import {
  type Block,
  blockHash,
  type CommitCertificate,
  commitVoteSignBytes,
  makeBlock,
  ZERO_HASH,
} from '../src/wire/index.ts';
import { FakeKeyRegistry, hex } from './crypto.ts';
import { InvariantChecker } from './invariants.ts';

const chainId = 'vigil-sim';
const reg = new FakeKeyRegistry();
const signers = [0, 1, 2, 3].map((i) => reg.signer(`validator/${i}`));
const validators = signers.map((s) => s.publicKey);
const tx = (i: number) => new TextEncoder().encode(`tx-${i}`);
const key = (b: Uint8Array) => hex(b);

function block(height: number, prev: Uint8Array, txs: Uint8Array[], timestamp = height): Block {
  return makeBlock(
    {
      version: 1,
      chainId,
      height,
      view: 0,
      prevHash: prev,
      stateRoot: ZERO_HASH,
      stateHeight: 0,
      proposer: 0,
      timestamp,
    },
    txs,
  );
}

function cert(b: Block, voters = [0, 1, 2]): CommitCertificate {
  const hash = blockHash(b.header);
  return {
    height: b.header.height,
    view: 0,
    blockHash: hash,
    votes: voters.map((v) => ({
      validator: v,
      signature: signers[v]!.sign(
        commitVoteSignBytes(chainId, { view: 0, height: b.header.height, blockHash: hash, validator: v }),
      ),
    })),
  };
}

function checker(): InvariantChecker {
  const c = new InvariantChecker({ chainId, validators, verifier: reg, settleQuorum: 2 });
  for (let i = 0; i < 10; i++) c.submitted(key(tx(i)), i);
  return c;
}

t.test('agreeing commits pass and settle transactions after f+1 replicas', async (t) => {
  const c = checker();
  const b1 = block(1, ZERO_HASH, [tx(0), tx(1)]);
  const b2 = block(2, blockHash(b1.header), [tx(2)]);
  for (const r of [0, 1, 2]) {
    t.ok(c.commit(r, b1, cert(b1), b1.txs.map(key), 100 + r));
    t.ok(c.commit(r, b2, cert(b2), b2.txs.map(key), 200 + r));
  }
  t.same(c.violations, []);
  t.equal(c.committedHeights, 2);
  t.equal(c.settledCount, 3);
  t.same(c.commitLatencies, [101, 100, 199], 'settled when the second replica committed');
});

t.test('two different blocks at one height: agreement', async (t) => {
  const c = checker();
  const a = block(1, ZERO_HASH, [tx(0)]);
  const b = block(1, ZERO_HASH, [tx(1)]);
  t.ok(c.commit(0, a, cert(a), a.txs.map(key), 1));
  t.notOk(c.commit(1, b, cert(b), b.txs.map(key), 2));
  t.equal(c.violations[0]?.kind, 'agreement');
});

t.test('a block not extending the agreed parent: agreement', async (t) => {
  const c = checker();
  const a = block(1, ZERO_HASH, [tx(0)]);
  c.commit(0, a, cert(a), a.txs.map(key), 1);
  const orphan = block(2, new Uint8Array(32).fill(7), [tx(1)]);
  t.notOk(c.commit(1, orphan, cert(orphan), orphan.txs.map(key), 2));
  t.equal(c.violations[0]?.kind, 'agreement');
});

t.test('validity: unsubmitted, duplicate in a block, committed at two heights', async (t) => {
  const c1 = checker();
  const junk = block(1, ZERO_HASH, [tx(99)]);
  t.notOk(c1.commit(0, junk, cert(junk), junk.txs.map(key), 1));
  t.match(c1.violations[0], { kind: 'validity', detail: /never submitted/ });

  const c2 = checker();
  const dup = block(1, ZERO_HASH, [tx(1), tx(1)]);
  t.notOk(c2.commit(0, dup, cert(dup), dup.txs.map(key), 1));
  t.match(c2.violations[0], { kind: 'validity', detail: /twice in one block/ });

  const c3 = checker();
  const b1 = block(1, ZERO_HASH, [tx(1)]);
  const b2 = block(2, blockHash(b1.header), [tx(1)]);
  t.ok(c3.commit(0, b1, cert(b1), b1.txs.map(key), 1));
  t.notOk(c3.commit(0, b2, cert(b2), b2.txs.map(key), 2));
  t.match(c3.violations[0], { kind: 'validity', detail: /heights 1 and 2/ });
});

t.test('certificate: too few votes, a forged vote, a block whose txs do not match its root', async (t) => {
  const b = block(1, ZERO_HASH, [tx(0)]);
  const c1 = checker();
  t.notOk(c1.commit(0, b, cert(b, [0, 1]), b.txs.map(key), 1));
  t.match(c1.violations[0], { kind: 'certificate', detail: /CERT_NO_QUORUM/ });

  const c2 = checker();
  const forged = cert(b);
  forged.votes[2] = { validator: 3, signature: signers[0]!.sign(new Uint8Array(1)) };
  t.notOk(c2.commit(0, b, forged, b.txs.map(key), 1));
  t.match(c2.violations[0], { kind: 'certificate', detail: /CERT_BAD_SIGNATURE/ });

  const c3 = checker();
  const tampered: Block = { header: b.header, txs: [tx(1)] };
  t.notOk(c3.commit(0, tampered, cert(b), [key(tx(1))], 1));
  t.match(c3.violations[0], { kind: 'certificate', detail: /txRoot/ });
});

t.test(
  'order: a replica skipping a height; restarts and state transfers reset the expectation',
  async (t) => {
    const c = checker();
    const b1 = block(1, ZERO_HASH, [tx(0)]);
    const b2 = block(2, blockHash(b1.header), [tx(1)]);
    const b3 = block(3, blockHash(b2.header), [tx(2)]);
    c.commit(0, b1, cert(b1), b1.txs.map(key), 1);
    c.commit(1, b1, cert(b1), b1.txs.map(key), 1);
    c.commit(1, b2, cert(b2), b2.txs.map(key), 1);
    t.notOk(c.commit(0, b3, cert(b3), b3.txs.map(key), 2));
    t.equal(c.violations[0]?.kind, 'order');
    // Replica 2 never committed 1 or 2 itself: after a state transfer to 2, height 3 is next.
    c.stateTransferred(2, 2);
    t.ok(c.commit(2, b3, cert(b3), b3.txs.map(key), 3));
    t.equal(c.violations.length, 1);
    // A restart forgets the expectation (the replica may re-commit from its records).
    c.restarted(1);
    t.ok(c.commit(1, b3, cert(b3), b3.txs.map(key), 4));
    t.equal(c.violations.length, 1);
  },
);

t.test('liveness: unsettled or late transactions past their deadline, and only those', async (t) => {
  const c = new InvariantChecker({ chainId, validators, verifier: reg, settleQuorum: 2 });
  c.submitted(key(tx(0)), 0);
  c.submitted(key(tx(1)), 900);
  const b = block(1, ZERO_HASH, [tx(0)]);
  c.commit(0, b, cert(b), b.txs.map(key), 50);
  c.commit(1, b, cert(b), b.txs.map(key), 60);
  c.checkLiveness(0, 100, 500);
  t.same(c.violations, [], 'tx1 deadline (1000) is after the end');
  c.checkLiveness(0, 100, 2000);
  t.match(c.violations, [{ kind: 'liveness', detail: /1 transaction/ }]);
  const late = new InvariantChecker({ chainId, validators, verifier: reg, settleQuorum: 2 });
  late.submitted(key(tx(0)), 0);
  late.commit(0, b, cert(b), b.txs.map(key), 50);
  late.commit(1, b, cert(b), b.txs.map(key), 150);
  late.checkLiveness(20, 100, 1000);
  t.match(late.violations, [{ kind: 'liveness', detail: /settled at 150ms \(deadline 120ms/ }]);
});
