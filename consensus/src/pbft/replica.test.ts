// Rules of the normal case, checkpoints, drops and persistence, each on hand-built message sets fed to
// one replica (Castro & Liskov, TOCS 2002; rule cited per test).
import t from 'tap';
import {
  decodeCommitCertificate,
  encodeCommitCertificate,
  merkleRoot,
  verifyCommitCertificate,
} from '../wire/index.ts';
import { bytesEqual } from './bytes.ts';
import { DropReason } from './errors.ts';
import {
  type BlockReply,
  createMessage,
  decodeMessage,
  type Fetch,
  MessageType,
  messageLimits,
  type PbftMessage,
} from './messages.ts';
import { RecordKey } from './records.ts';
import { Replica, Timers } from './replica.ts';
import {
  CHAIN,
  checkpoint,
  commit,
  makeTestBlock,
  newView,
  prePrepare,
  prepare,
  testGroup,
  tx,
  suspect,
  viewChange,
} from './testkit.ts';
import type { Ready } from './types.ts';

const g = testGroup(4);
const limits = messageLimits(g.config(0));

function replica(self: number, records?: Map<string, Uint8Array>) {
  return records === undefined
    ? Replica.create(g.config(self), g.deps(self))
    : Replica.restore(g.config(self), g.deps(self), records);
}

function feed(r: Replica, from: number, bytes: Uint8Array, records?: Map<string, Uint8Array>): Ready {
  const ready = r.step({ type: 'receive', from, message: bytes });
  if (records !== undefined) apply(records, ready);
  return ready;
}

function apply(records: Map<string, Uint8Array>, ready: Ready) {
  for (const p of ready.persist) {
    if (p.value === null) records.delete(p.key);
    else records.set(p.key, p.value);
  }
}

function sent(ready: Ready, type: number): PbftMessage[] {
  return ready.send.map((s) => decodeMessage(s.message, limits)).filter((m) => m.type === type);
}

function dropped(r: Replica, reason: string): number {
  return r.stats().dropped[reason] ?? 0;
}

/** A chain of blocks 1..k proposed by replica 0 in view 0. */
function chain(k: number) {
  const out: ReturnType<typeof makeTestBlock>[] = [];
  let parent: { hash: Uint8Array; timestamp: number } | undefined;
  for (let h = 1; h <= k; h++) {
    const b = makeTestBlock(4, 0, h, parent, [tx(h)]);
    out.push(b);
    parent = { hash: b.hash, timestamp: b.block.header.timestamp };
  }
  return out;
}

/** Drives backup `r` (id 1) to commit blocks[0..k-1] with hand-built votes from replicas 0, 2, 3. */
function commitAll(r: Replica, blocks: ReturnType<typeof chain>, records?: Map<string, Uint8Array>): Ready[] {
  const readies: Ready[] = [];
  for (const b of blocks) {
    const h = b.block.header.height;
    readies.push(feed(r, 0, prePrepare(g, 0, 0, b).bytes, records));
    readies.push(feed(r, 2, prepare(g, 2, 0, h, b.hash).bytes, records));
    readies.push(feed(r, 2, commit(g, 2, 0, h, b.hash).bytes, records));
    readies.push(feed(r, 3, commit(g, 3, 0, h, b.hash).bytes, records));
  }
  return readies;
}

t.test(
  '§4.2 quorum counting: the primary prepares on q-1 PREPAREs from distinct backups; repeats do not count',
  async (t) => {
    const r = replica(0);
    const [b] = chain(1);
    const ready = r.step({ type: 'propose', txs: [tx(1)], now: 10 });
    const pp = sent(ready, MessageType.prePrepare)[0]!;
    t.ok(pp, 'the primary proposed a block');
    t.equal(
      ready.persist.filter((p) => p.key === RecordKey.prePrepare(1)).length,
      1,
      'its PRE-PREPARE is persisted in the same Ready',
    );
    const hash = (pp as { blockHash: Uint8Array }).blockHash;
    t.equal(
      sent(feed(r, 1, prepare(g, 1, 0, 1, hash).bytes), MessageType.commit).length,
      0,
      'one PREPARE is not enough',
    );
    const again = feed(r, 1, prepare(g, 1, 0, 1, hash).bytes);
    t.equal(sent(again, MessageType.commit).length, 0, 'the same sender again is not a second vote');
    t.equal(dropped(r, DropReason.duplicate), 1, 'the repeat is counted as a duplicate');
    t.equal(
      sent(feed(r, 2, prepare(g, 2, 0, 1, hash).bytes), MessageType.commit).length,
      1,
      'q-1 = 2 distinct PREPAREs: prepared, COMMIT sent',
    );
    t.ok(b, 'fixture');
  },
);

t.test(
  '§4.2 committed-local: q matching COMMITs from distinct replicas; the certificate is transferable',
  async (t) => {
    const r = replica(1);
    const [b] = chain(1);
    const r1 = feed(r, 0, prePrepare(g, 0, 0, b!).bytes);
    t.equal(sent(r1, MessageType.prepare).length, 1, 'the backup PREPAREs an acceptable PRE-PREPARE');
    const r2 = feed(r, 2, prepare(g, 2, 0, 1, b!.hash).bytes);
    t.equal(sent(r2, MessageType.commit).length, 1, 'prepared with its own and one other PREPARE (q-1 = 2)');
    t.ok(
      r2.persist.some((p) => p.key === RecordKey.prepared(1)),
      'the prepared certificate is persisted with the COMMIT',
    );
    t.equal(feed(r, 2, commit(g, 2, 0, 1, b!.hash).bytes).commit.length, 0, 'two COMMITs: not yet');
    t.equal(
      feed(r, 2, commit(g, 2, 0, 1, b!.hash).bytes).commit.length,
      0,
      'a repeated COMMIT does not count',
    );
    const done = feed(r, 3, commit(g, 3, 0, 1, b!.hash).bytes);
    t.equal(done.commit.length, 1, 'q = 3 distinct COMMITs: the block commits');
    const cert = done.commit[0]!.certificate;
    t.equal(cert.votes.length, 3);
    const decoded = decodeCommitCertificate(encodeCommitCertificate(cert));
    t.doesNotThrow(
      () => verifyCommitCertificate(CHAIN, decoded, b!.block.header, g.validators, g.crypto),
      'wire verifies it',
    );
    t.equal(r.lastCommitted, 1);
    t.equal(feed(r, 0, commit(g, 0, 0, 1, b!.hash).bytes).commit.length, 0, 'a block commits once');
  },
);

t.test('§4.2 drops: bad signature, non-member, malformed, stale view, wrong primary', async (t) => {
  const r = replica(1);
  const [b] = chain(1);
  const pp = prePrepare(g, 0, 0, b!);
  const forged = prePrepare(g, 2, 0, b!); // signed by 2, claims to be a PRE-PREPARE
  t.equal(feed(r, 2, forged.bytes).send.length, 0);
  t.equal(dropped(r, DropReason.wrongPrimary), 1, 'a PRE-PREPARE from a backup is dropped');
  const tampered = pp.bytes.slice();
  // The signature sits right after the 32-byte hash and the replica index; flip a byte in it.
  const sigAt = tampered.indexOf(0x40, 40) + 1;
  tampered[sigAt]! ^= 1;
  feed(r, 0, tampered);
  t.equal(dropped(r, DropReason.badSignature), 1, 'a forged signature is dropped');
  feed(r, 9, pp.bytes);
  t.equal(dropped(r, DropReason.notMember), 1, 'a sender outside the validator set is dropped');
  feed(r, 0, new Uint8Array([1, 2, 3]));
  t.equal(dropped(r, DropReason.malformed), 1, 'undecodable bytes are dropped');
  // Move replica 1 to view 1 (its request timer, and a second suspicion), then a view-0 message is stale.
  r.step({ type: 'propose', txs: [tx(9)], now: 1 });
  const expiry = r.step({ type: 'timeout', timer: Timers.request, now: 2000 });
  t.equal(sent(expiry, MessageType.suspect).length, 1, 'request timer expiry sends SUSPECT (ADR 0112)');
  t.equal(r.view, 0, 'one suspicion leaves the view as it is');
  const vc = feed(r, 2, suspect(g, 2, 0).bytes);
  t.equal(sent(vc, MessageType.viewChange).length, 1, 'f + 1 suspicions send VIEW-CHANGE (§4.4)');
  feed(r, 0, pp.bytes);
  t.equal(dropped(r, DropReason.staleView), 1, 'a message for an older view is dropped');
});

t.test(
  '§4.2 equivocation: a second, different PRE-PREPARE for (v, n) is evidence; the first is kept',
  async (t) => {
    const r = replica(1);
    const a = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
    const b = makeTestBlock(4, 0, 1, undefined, [tx(2)]);
    t.equal(sent(feed(r, 0, prePrepare(g, 0, 0, a).bytes), MessageType.prepare).length, 1);
    const second = feed(r, 0, prePrepare(g, 0, 0, b).bytes);
    t.equal(second.send.length, 0, 'nothing is sent for the conflicting proposal');
    t.equal(dropped(r, DropReason.equivocation), 1);
    feed(r, 2, prepare(g, 2, 0, 1, b.hash).bytes);
    feed(r, 3, prepare(g, 3, 0, 1, b.hash).bytes);
    t.equal(r.stats().sizes.votes, 3, 'votes are kept per sender');
    const c = feed(r, 2, prepare(g, 2, 0, 1, a.hash).bytes);
    t.equal(c.send.length, 0, "a sender's second, different PREPARE is not counted");
    t.equal(dropped(r, DropReason.equivocation), 2);
  },
);

t.test('§4.2 watermarks: only heights in (h, h+L] are accepted', async (t) => {
  const r = replica(1);
  const far = makeTestBlock(4, 0, 9, undefined, [tx(1)]);
  feed(r, 0, prePrepare(g, 0, 0, far).bytes);
  t.equal(dropped(r, DropReason.outOfWindow), 1, 'height L+1 = 9 is beyond the high watermark');
  feed(r, 2, prepare(g, 2, 0, 0, far.hash).bytes);
  t.equal(dropped(r, DropReason.outOfWindow), 2, 'height 0 is at the low watermark');
});

t.test(
  'chain rule (ADR 0011): PRE-PREPARE held until its parent is known; PREPARE(h) only after h-1 prepared',
  async (t) => {
    const r = replica(1);
    const [b1, b2] = chain(2);
    const early = feed(r, 0, prePrepare(g, 0, 0, b2!).bytes);
    t.equal(early.send.length, 0, 'no PREPARE for a block whose parent is unknown');
    t.equal(r.stats().sizes.heldPrePrepares, 1, 'it is held (bounded buffer)');
    const on1 = feed(r, 0, prePrepare(g, 0, 0, b1!).bytes);
    const preps = sent(on1, MessageType.prepare) as { height: number }[];
    t.same(
      preps.map((p) => p.height),
      [1],
      'parent arrives: PREPARE(1) only, since 1 is not prepared yet',
    );
    t.equal(r.stats().sizes.heldPrePrepares, 0, 'the held PRE-PREPARE was accepted');
    const on2 = feed(r, 2, prepare(g, 2, 0, 1, b1!.hash).bytes);
    t.same(
      sent(on2, MessageType.prepare).map((p) => (p as { height: number }).height),
      [2],
      'when 1 prepares, PREPARE(2) follows',
    );
    t.equal(sent(on2, MessageType.commit).length, 1, 'and COMMIT(1)');
  },
);

t.test('backup checks: prevHash, state root, timestamps (ADR 0010)', async (t) => {
  const r = replica(1);
  const [b1] = chain(1);
  feed(r, 0, prePrepare(g, 0, 0, b1!).bytes);
  const wrongParent = makeTestBlock(4, 0, 2, { hash: new Uint8Array(32).fill(7), timestamp: 1 }, [tx(2)]);
  feed(r, 0, prePrepare(g, 0, 0, wrongParent).bytes);
  t.equal(dropped(r, DropReason.badChain), 1, 'prevHash must be the hash of the block at h-1');
  const r2 = replica(1);
  const badRoot = makeTestBlock(4, 0, 1, undefined, [tx(1)], { stateRoot: new Uint8Array(32).fill(1) });
  feed(r2, 0, prePrepare(g, 0, 0, badRoot).bytes);
  t.equal(dropped(r2, DropReason.badStateRoot), 1, "stateRoot must equal this replica's root at stateHeight");
  const r3 = replica(1);
  const future = makeTestBlock(4, 0, 1, undefined, [tx(1)], { timestamp: 10_000 });
  t.equal(
    feed(r3, 0, prePrepare(g, 0, 0, future).bytes).send.length,
    0,
    'a timestamp beyond now + skew waits',
  );
  t.equal(r3.stats().sizes.heldPrePrepares, 1);
  const later = r3.step({ type: 'tick', now: 6000 });
  t.equal(sent(later, MessageType.prepare).length, 1, 'once the clock catches up it is accepted');
  const r4 = replica(1, undefined);
  const r4deps = Replica.create(g.config(1), { ...g.deps(1), validateTransactions: () => 'NOPE' });
  feed(r4deps, 0, prePrepare(g, 0, 0, b1!).bytes);
  t.equal(dropped(r4deps, DropReason.invalidTransactions), 1, 'validateTransactions vetoes the block');
  t.ok(r4);
});

t.test(
  'the txRoot capability: used for every PRE-PREPARE check, and one that disagrees refuses blocks',
  async (t) => {
    const [b1] = chain(1);
    let calls = 0;
    const counting = Replica.create(g.config(1), {
      ...g.deps(1),
      txRoot: (txs) => {
        calls++;
        return merkleRoot(txs);
      },
    });
    const accepted = feed(counting, 0, prePrepare(g, 0, 0, b1!).bytes);
    t.equal(sent(accepted, MessageType.prepare).length, 1, 'an equal root function: PREPARE as usual');
    t.ok(calls >= 2, `the decode and the shape check used it (${calls} calls)`);
    const wrong = Replica.create(g.config(1), { ...g.deps(1), txRoot: () => new Uint8Array(32) });
    const refused = feed(wrong, 0, prePrepare(g, 0, 0, b1!).bytes);
    t.equal(
      sent(refused, MessageType.prepare).length,
      0,
      'a root that disagrees with the header: no PREPARE',
    );
  },
);

t.test(
  '§4.3 checkpoints: stable at q matching CHECKPOINTs; log, records and votes below it are discarded',
  async (t) => {
    const records = new Map<string, Uint8Array>();
    const r = replica(1);
    const blocks = chain(5);
    const readies = commitAll(r, blocks.slice(0, 4), records);
    const committed = readies.flatMap((x) => x.commit);
    t.same(
      committed.map((c) => c.block.header.height),
      [1, 2, 3, 4],
      'blocks commit in height order',
    );
    const roots: Uint8Array[] = [];
    let cp: Ready | undefined;
    for (let h = 1; h <= 4; h++) {
      roots[h] = new Uint8Array(32).fill(h);
      cp = r.step({ type: 'executed', height: h, stateRoot: roots[h]! });
      apply(records, cp);
    }
    const mine = sent(cp!, MessageType.checkpoint);
    t.equal(mine.length, 1, 'a CHECKPOINT is multicast after executing height K = 4');
    t.equal(r.lowWatermark, 0, 'one vote is not stable');
    const ts = blocks[3]!.block.header.timestamp;
    apply(records, feed(r, 2, checkpoint(g, 2, 4, blocks[3]!.hash, roots[4]!, ts).bytes));
    apply(records, feed(r, 2, checkpoint(g, 2, 4, blocks[3]!.hash, roots[4]!, ts).bytes));
    t.equal(r.lowWatermark, 0, 'a repeated vote from one replica does not make q');
    const wrong = feed(r, 3, checkpoint(g, 3, 4, blocks[3]!.hash, new Uint8Array(32).fill(9), ts).bytes);
    apply(records, wrong);
    t.equal(r.lowWatermark, 0, 'a vote for a different state root does not match');
    apply(records, feed(r, 0, checkpoint(g, 0, 4, blocks[3]!.hash, roots[4]!, ts).bytes));
    t.equal(r.lowWatermark, 4, 'q = 3 matching votes: stable, the low watermark moves to 4');
    t.equal(r.stats().sizes.slots, 0, 'slots at or below the checkpoint are discarded');
    t.notOk(
      [...records.keys()].some((k) => /pbft\/(pp|prepared|votes|committed)\/[1-4]$/.test(k)),
      'their records are deleted',
    );
    t.ok(records.has(RecordKey.checkpoint), 'the stable checkpoint and its proof are persisted');
    const high = makeTestBlock(4, 0, 12, undefined, [tx(12)]);
    feed(r, 0, prePrepare(g, 0, 0, high).bytes);
    t.equal(
      r.stats().sizes.heldPrePrepares,
      1,
      'height 12 = h + L is now inside the window (held for its parent)',
    );
  },
);

t.test(
  '§4.4 restore: a restarted replica keeps what it accepted and sent, so it cannot contradict itself',
  async (t) => {
    const records = new Map<string, Uint8Array>();
    const r = replica(1);
    const a = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
    const b = makeTestBlock(4, 0, 1, undefined, [tx(2)]);
    feed(r, 0, prePrepare(g, 0, 0, a).bytes, records);
    t.ok(
      records.has(RecordKey.prePrepare(1)) && records.has(RecordKey.votes(1)),
      'PRE-PREPARE and PREPARE-sent persisted',
    );
    const back = replica(1, records);
    const conflicting = feed(back, 0, prePrepare(g, 0, 0, b).bytes);
    const prepares = sent(conflicting, MessageType.prepare) as { blockHash: Uint8Array }[];
    t.equal(
      prepares.filter((p) => bytesEqual(p.blockHash, b.hash)).length,
      0,
      'after restore, a conflicting PRE-PREPARE gets no PREPARE',
    );
    t.equal(
      prepares.filter((p) => bytesEqual(p.blockHash, a.hash)).length,
      1,
      'its own earlier PREPARE (for the first block) is re-sent',
    );
    t.equal(dropped(back, DropReason.equivocation), 1);
    const p = feed(back, 2, prepare(g, 2, 0, 1, a.hash).bytes);
    t.equal(sent(p, MessageType.commit).length, 1, 'the restored replica continues the original block');
  },
);

t.test(
  'ADR 0121: without its records a replica would contradict itself; recovering, it does not',
  async (t) => {
    const a = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
    const b = makeTestBlock(4, 0, 1, undefined, [tx(2)]);
    const r = replica(1);
    t.equal(sent(feed(r, 0, prePrepare(g, 0, 0, a).bytes), MessageType.prepare).length, 1, 'PREPARE for A');
    // The disk is lost. Created afresh, the replica PREPAREs a conflicting B at the same (view, height):
    // with a faulty primary that equivocated, two certificates for one height become possible.
    const amnesiac = replica(1);
    t.equal(sent(feed(amnesiac, 0, prePrepare(g, 0, 0, b).bytes), MessageType.prepare).length, 1, 'B too');
    const recovering = Replica.create(g.config(1, { recoverAfter: 10_000 }), g.deps(1));
    t.equal(recovering.id, -1);
    const ready = feed(recovering, 0, prePrepare(g, 0, 0, b).bytes);
    t.equal(sent(ready, MessageType.prepare).length, 0, 'recovering: no PREPARE for B');
    t.ok(
      ready.persist.some((p) => p.key === RecordKey.recovery),
      'the recovery record is in the first Ready, with or before anything sent',
    );
  },
);

t.test(
  '§4.4 restore during a view change: same view, same VIEW-CHANGE re-sent, timer re-armed',
  async (t) => {
    const records = new Map<string, Uint8Array>();
    const r = replica(2);
    apply(records, r.step({ type: 'propose', txs: [tx(1)], now: 1 }));
    apply(records, r.step({ type: 'timeout', timer: Timers.request, now: 5000 }));
    const vc = feed(r, 3, suspect(g, 3, 0).bytes);
    apply(records, vc);
    const original = vc.send.find(
      (s) => decodeMessage(s.message, limits).type === MessageType.viewChange,
    )!.message;
    const back = replica(2, records);
    t.equal(back.view, 1);
    t.notOk(back.active, 'still waiting for NEW-VIEW');
    const first = back.step({ type: 'tick', now: 6000 });
    t.ok(
      first.send.some((s) => bytesEqual(s.message, original)),
      'the identical VIEW-CHANGE is re-sent',
    );
    t.notOk(
      first.timers.some((x) => x.type === 'set' && x.timer === Timers.viewChange),
      'no view-change timer before q VIEW-CHANGEs for the view (§4.5.2)',
    );
    feed(back, 0, viewChange(g, 0, 1, []).bytes);
    const armed = feed(back, 3, viewChange(g, 3, 1, []).bytes);
    t.ok(
      armed.timers.some((x) => x.type === 'set' && x.timer === Timers.viewChange),
      'with q of them the view-change timer is re-armed',
    );
  },
);

/** Replica 1 becomes primary of view 1 from VIEW-CHANGEs of 0 and 2 and sends NEW-VIEW; its records. */
function primaryOfViewOne() {
  const records = new Map<string, Uint8Array>();
  const r = replica(1);
  apply(records, r.step({ type: 'tick', now: 1000 }));
  feed(r, 0, viewChange(g, 0, 1, []).bytes, records);
  const ready = feed(r, 2, viewChange(g, 2, 1, []).bytes, records);
  const nv = ready.send.find((s) => decodeMessage(s.message, limits).type === MessageType.newView);
  return { r, records, nv: nv!.message };
}

t.test(
  '§4.4 restore of a new primary: its NEW-VIEW is kept, re-sent on restart, and handed to a replica still asking',
  async (t) => {
    const { r, records, nv } = primaryOfViewOne();
    t.ok(r.active && r.view === 1, 'replica 1 runs view 1');
    t.same(records.get(RecordKey.newView), nv, 'the NEW-VIEW is persisted in the Ready that sends it');

    const back = replica(1, records);
    t.ok(back.active && back.view === 1 && back.isPrimary, 'restored as the active primary of view 1');
    const first = back.step({ type: 'tick', now: 2000 });
    t.ok(
      first.send.some((s) => s.to === 'all' && bytesEqual(s.message, nv)),
      'the first Ready re-sends the identical NEW-VIEW',
    );

    // Replica 3 missed it: it is still changing views and retransmits its VIEW-CHANGE for view 1.
    const lagging = replica(3);
    lagging.step({ type: 'tick', now: 1000 });
    feed(lagging, 0, viewChange(g, 0, 1, []).bytes);
    feed(lagging, 2, viewChange(g, 2, 1, []).bytes);
    t.ok(lagging.view === 1 && !lagging.active, 'replica 3 waits in the view change to 1');
    const own = viewChange(g, 3, 1, []).bytes;
    const served = feed(back, 3, own);
    t.same(
      served.send.map((s) => [s.to, bytesEqual(s.message, nv)]),
      [[3, true]],
      'the primary answers with its NEW-VIEW, to replica 3 only',
    );
    t.equal(back.stats().newViewsServed, 1);
    t.equal(feed(back, 3, own).send.length, 0, 'not again within a quarter timeout');
    back.step({ type: 'tick', now: 2250 });
    t.equal(feed(back, 3, own).send.length, 1, 'again a quarter timeout later');
    const forged = viewChange(g, 3, 1, []).bytes.slice();
    forged[forged.length - 1]! ^= 1;
    back.step({ type: 'tick', now: 3000 });
    t.equal(feed(back, 3, forged).send.length, 0, 'a VIEW-CHANGE with a bad signature gets nothing');

    feed(lagging, 1, nv);
    t.ok(lagging.active && lagging.view === 1, 'replica 3 installs view 1 from it, no further view change');
    t.equal(lagging.stats().viewChangesStarted, 1);
  },
);

t.test(
  'a primary that leaves its view deletes its NEW-VIEW record; a bad record stops restore',
  async (t) => {
    const { r, records, nv } = primaryOfViewOne();
    const bad = new Map(records);
    bad.set(RecordKey.newView, nv.subarray(0, nv.length - 3));
    t.throws(() => replica(1, bad), { name: 'PbftRestoreError' }, 'a truncated record');
    const other = new Map(records);
    other.set(RecordKey.newView, viewChange(g, 1, 1, []).bytes);
    t.throws(() => replica(1, other), { name: 'PbftRestoreError' }, 'not a NEW-VIEW');
    const backup = new Map(records);
    t.throws(() => replica(2, backup), { name: 'PbftRestoreError' }, "another replica's record");

    // f + 1 VIEW-CHANGEs for view 2 make replica 1 join it (§4.5.2): the old NEW-VIEW goes.
    feed(r, 0, viewChange(g, 0, 2, []).bytes, records);
    const left = feed(r, 2, viewChange(g, 2, 2, []).bytes, records);
    t.equal(r.view, 2);
    t.ok(
      left.persist.some((p) => p.key === RecordKey.newView && p.value === null),
      'deleted in the Ready that starts the view change',
    );
    t.notOk(records.has(RecordKey.newView));
    t.doesNotThrow(() => replica(1, records), 'and the records restore');
  },
);

t.test(
  'committed-but-unexecuted blocks are re-delivered after restore, once, above the executed height',
  async (t) => {
    const records = new Map<string, Uint8Array>();
    const r = replica(1);
    const blocks = chain(3);
    commitAll(r, blocks, records);
    apply(records, r.step({ type: 'executed', height: 1, stateRoot: new Uint8Array(32).fill(1) }));
    const back = replica(1, records);
    t.equal(back.lastCommitted, 3);
    const first = back.step({ type: 'executed', height: 2, stateRoot: new Uint8Array(32).fill(2) });
    t.same(
      first.commit.map((c) => c.block.header.height),
      [3],
      'only height 3 is re-delivered (2 was applied)',
    );
    t.equal(back.step({ type: 'tick', now: 1 }).commit.length, 0, 'and only once');
  },
);

t.test(
  'a retransmitted future-view message is buffered once, so it cannot crowd out later ones',
  async (t) => {
    const r = replica(1);
    const [b] = chain(1);
    const again = prepare(g, 3, 1, 1, b!.hash).bytes;
    for (let i = 0; i < 3 * 8 + 5; i++) feed(r, 3, again);
    t.equal(r.stats().sizes.futureBuffered, 1, 'one copy held');
    t.equal(dropped(r, DropReason.futureView), 0, 'no overflow');
    feed(r, 3, commit(g, 3, 1, 1, b!.hash).bytes);
    t.equal(r.stats().sizes.futureBuffered, 2, "the peer's next message is still buffered");
  },
);

t.test('bounded memory: nothing a Byzantine peer sends grows state without bound', async (t) => {
  const r = replica(1);
  const [b] = chain(1);
  for (let v = 1; v < 200; v++) feed(r, 3, prepare(g, 3, v, 1, b!.hash).bytes);
  t.ok(
    r.stats().sizes.futureBuffered <= 3 * 8,
    `future-view messages capped per peer (${r.stats().sizes.futureBuffered})`,
  );
  t.ok(dropped(r, DropReason.futureView) > 0, 'overflow counted');
  for (let h = 16; h < 2000; h += 4) feed(r, 3, checkpoint(g, 3, h, b!.hash, b!.hash, 1).bytes);
  t.ok(
    r.stats().sizes.checkpointVotes <= 1,
    'checkpoint votes beyond the window: the latest per sender only',
  );
  for (let v = 1; v < 50; v++) feed(r, 3, viewChange(g, 3, v * 10, []).bytes);
  t.ok(r.stats().sizes.viewChangeMessages <= 4, 'VIEW-CHANGEs: one (the latest) per sender');
  for (let h = 2; h <= 8; h++)
    feed(
      r,
      0,
      prePrepare(g, 0, 0, makeTestBlock(4, 0, h, { hash: new Uint8Array(32).fill(h), timestamp: h }, [tx(h)]))
        .bytes,
    );
  t.ok(r.stats().sizes.heldPrePrepares <= 8, 'held PRE-PREPAREs: at most one per height in the window');
});

t.test(
  '§4.5.2 liveness rule: f+1 VIEW-CHANGEs for higher views make a replica join the smallest',
  async (t) => {
    const r = replica(1);
    const one = feed(r, 2, viewChange(g, 2, 3, []).bytes);
    t.equal(sent(one, MessageType.viewChange).length, 0, 'f = 1 VIEW-CHANGE is not enough');
    const two = feed(r, 3, viewChange(g, 3, 2, []).bytes);
    const mine = sent(two, MessageType.viewChange) as { newView: number }[];
    t.same(
      mine.map((m) => m.newView),
      [2],
      'f+1 = 2: it sends VIEW-CHANGE for the smallest, 2',
    );
    t.equal(r.view, 2);
    t.ok(
      two.timers.some((x) => x.type === 'set' && x.timer === Timers.viewChange),
      "§4.5.2: q VIEW-CHANGEs at or above its view (own and 3's for 2, 2's for 3) start the timer",
    );
    const solo = replica(1);
    const a = feed(solo, 2, viewChange(g, 2, 2, []).bytes);
    const b = feed(solo, 3, viewChange(g, 3, 2, []).bytes);
    t.equal(sent(b, MessageType.viewChange).length, 1, 'joined view 2');
    t.ok(
      b.timers.some((x) => x.type === 'set' && x.timer === Timers.viewChange),
      'own + two others = q: timer set',
    );
    t.equal(a.timers.length, 0, 'nothing armed before joining');
  },
);

/** How long `timer` was set for in this step, if it was set. */
function armedFor(ready: Ready, timer: string): number | undefined {
  const set = ready.timers.find((y) => y.type === 'set' && y.timer === timer);
  return set?.type === 'set' ? set.afterMs : undefined;
}

t.test('§4.5.2 backoff: each consecutive view change doubles the timeout', async (t) => {
  // Replica 3 is primary of neither view 1 nor view 2; 0 and 2 join each view change.
  const r = replica(3);
  r.step({ type: 'propose', txs: [tx(1)], now: 1 });
  const timerOf = (x: Ready) => armedFor(x, Timers.viewChange);
  r.step({ type: 'timeout', timer: Timers.request, now: 1000 });
  feed(r, 0, viewChange(g, 0, 1, []).bytes);
  const first = timerOf(feed(r, 2, viewChange(g, 2, 1, []).bytes));
  r.step({ type: 'timeout', timer: Timers.viewChange, now: 2000 });
  feed(r, 0, viewChange(g, 0, 2, []).bytes);
  const second = timerOf(feed(r, 1, viewChange(g, 1, 2, []).bytes));
  t.same([first, second], [1000, 2000]);
  t.equal(r.view, 2);
});

t.test(
  '§4.5.2: the request timer of a view reached without a commit waits as long as the backoff',
  async (t) => {
    // Replica 3 is primary of neither view 1 (primary 1) nor view 2 (primary 2). It holds an uncommitted
    // transaction throughout, so after each NEW-VIEW it arms its request timer; no block commits.
    const r = replica(3);
    r.step({ type: 'propose', txs: [tx(1)], now: 1 });
    const requestTimer = (x: Ready) => armedFor(x, Timers.request);
    const install = (view: number, primary: number, others: number[]) => {
      r.step({ type: 'timeout', timer: Timers.request, now: view * 10_000 });
      const vcs = [primary, ...others].map((i) => viewChange(g, i, view, []).bytes);
      for (const [k, i] of others.entries()) feed(r, i, vcs[k + 1]!);
      const ready = feed(r, primary, newView(g, primary, view, vcs, []).bytes);
      t.equal(r.view, view, `view ${view} installed`);
      return requestTimer(ready);
    };
    t.equal(install(1, 1, [0, 2]), 1000, 'first view change: T');
    t.equal(install(2, 2, [0, 1]), 2000, 'second in a row without a commit: 2T, as its view-change timer');
  },
);

t.test(
  'test-only quorumOverride mutation changes the counting (so the simulator can break safety)',
  async (t) => {
    const r = Replica.create({ ...g.config(1), mutations: { quorumOverride: 2 } }, g.deps(1));
    const [b] = chain(1);
    const first = feed(r, 0, prePrepare(g, 0, 0, b!).bytes);
    t.equal(sent(first, MessageType.commit).length, 1, 'q-1 = 1: its own PREPARE already prepares the block');
    t.equal(feed(r, 2, commit(g, 2, 0, 1, b!.hash).bytes).commit.length, 1, 'q = 2 COMMITs commit it');
  },
);

t.test(
  'catch-up (ADR 0014): a BLOCK is delivered only with q valid COMMIT signatures and a matching parent',
  async (t) => {
    const r = replica(1);
    const [b1, b2] = chain(2);
    const reply = (b: ReturnType<typeof makeTestBlock>, voters: number[], forgeBy?: number) =>
      createMessage<BlockReply>(CHAIN, g.signers[2]!, {
        type: MessageType.blockReply,
        height: b.block.header.height,
        blockHash: b.hash,
        replica: 2,
        block: b.block,
        blockBytes: b.bytes,
        certificate: {
          height: b.block.header.height,
          view: 0,
          blockHash: b.hash,
          votes: voters.map((v) => ({
            validator: v,
            signature: commit(g, forgeBy ?? v, 0, b.block.header.height, b.hash).message.signature,
          })),
        },
      }).bytes;
    t.equal(feed(r, 2, reply(b1!, [0, 2])).commit.length, 0, 'q-1 votes: not delivered');
    t.equal(dropped(r, DropReason.badCertificate), 1);
    t.equal(
      feed(r, 2, reply(b1!, [0, 2, 3], 3)).commit.length,
      0,
      'votes signed by another key: not delivered',
    );
    t.equal(dropped(r, DropReason.badCertificate), 2);
    t.equal(feed(r, 2, reply(b2!, [0, 2, 3])).commit.length, 0, 'height 2 waits for height 1');
    const done = feed(r, 3, reply(b1!, [0, 2, 3]));
    t.same(
      done.commit.map((c) => c.block.header.height),
      [1, 2],
      'a valid certificate for 1 delivers 1, then the buffered 2, in order',
    );
    t.equal(r.lastCommitted, 2);
  },
);

/** Replica 3's FETCH for heights 1 and 2. */
function fetchFrom3(): Uint8Array {
  return createMessage<Fetch>(CHAIN, g.signers[3]!, {
    type: MessageType.fetch,
    fromHeight: 1,
    count: 2,
    replica: 3,
  }).bytes;
}

t.test('FETCH is answered at most once per peer per half timeout (no amplification)', async (t) => {
  const r = replica(1);
  commitAll(r, chain(2));
  t.equal(
    feed(r, 3, fetchFrom3()).send.filter((s) => s.to === 3).length,
    2,
    'two committed blocks sent back',
  );
  t.equal(feed(r, 3, fetchFrom3()).send.length, 0, 'an immediate repeat is ignored');
  r.step({ type: 'tick', now: 600 });
  t.equal(
    feed(r, 3, fetchFrom3()).send.filter((s) => s.to === 3).length,
    2,
    'answered again after half a timeout',
  );
});

t.test(
  'a peer re-sending a vote for a height committed here gets our PREPARE and COMMIT back (TOCS §5.2)',
  async (t) => {
    const r = replica(1);
    const [b] = chain(1);
    commitAll(r, [b!]);
    t.equal(r.lastCommitted, 1, 'height 1 committed here');
    // Replica 3 lost our COMMIT and retransmits its own: a duplicate here, but a sign it is stalled.
    const answer = feed(r, 3, commit(g, 3, 0, 1, b!.hash).bytes);
    const toPeer = answer.send.filter((s) => s.to === 3).map((s) => decodeMessage(s.message, limits));
    t.same(
      toPeer.map((m) => m.type).sort(),
      [MessageType.prepare, MessageType.commit].sort(),
      'our own PREPARE and COMMIT go to that peer only',
    );
    t.equal(answer.send.length, 2, 'nothing is broadcast');
    t.equal(dropped(r, DropReason.duplicate), 1, 'the copy itself is still counted as a duplicate');
    t.equal(
      feed(r, 3, commit(g, 3, 0, 1, b!.hash).bytes).send.length,
      0,
      'at most one answer per peer and height per quarter timeout',
    );
    t.equal(
      feed(r, 2, prepare(g, 2, 0, 1, b!.hash).bytes).send.filter((s) => s.to === 2).length,
      2,
      'a re-sent PREPARE is answered too (the limit is per peer)',
    );
    r.step({ type: 'tick', now: 600 });
    t.equal(
      feed(r, 3, commit(g, 3, 0, 1, b!.hash).bytes).send.filter((s) => s.to === 3).length,
      2,
      'answered again once a quarter timeout has passed',
    );
  },
);

t.test('the primary re-sending a PRE-PREPARE committed here gets our PREPARE and COMMIT back', async (t) => {
  const r = replica(1);
  const [b] = chain(1);
  commitAll(r, [b!]);
  const answer = feed(r, 0, prePrepare(g, 0, 0, b!).bytes);
  t.same(
    answer.send
      .filter((s) => s.to === 0)
      .map((s) => decodeMessage(s.message, limits).type)
      .sort(),
    [MessageType.prepare, MessageType.commit].sort(),
    'the stalled primary is sent our votes',
  );
  t.equal(answer.send.length, 2, 'to the primary only');
  t.equal(feed(r, 0, prePrepare(g, 0, 0, b!).bytes).send.length, 0, 'rate-limited per quarter timeout');
});

t.test('a FETCH that found nothing to send does not silence the peer’s next one', async (t) => {
  const r = replica(1);
  t.equal(feed(r, 3, fetchFrom3()).send.length, 0, 'nothing committed here yet: no reply');
  commitAll(r, chain(2));
  t.equal(
    feed(r, 3, fetchFrom3()).send.filter((s) => s.to === 3).length,
    2,
    'the blocks committed meanwhile are sent at once',
  );
});

t.test('its own CHECKPOINT relayed back after a restart counts toward stability (§4.3)', async (t) => {
  const r = replica(1);
  const hash = new Uint8Array(32).fill(4);
  const root = new Uint8Array(32).fill(5);
  feed(r, 0, checkpoint(g, 0, 4, hash, root, 4).bytes);
  feed(r, 2, checkpoint(g, 2, 4, hash, root, 4).bytes);
  t.equal(r.stats().stableCheckpoints, 0, 'two of q = 3');
  // Signed by this replica before it crashed; a peer re-sends it with the boundary proof.
  feed(r, 0, checkpoint(g, 1, 4, hash, root, 4).bytes);
  t.equal(r.stats().stableCheckpoints, 1, 'the third vote is its own, and it is stable');
  t.equal(dropped(r, DropReason.duplicate), 0, 'nothing dropped as its own message');
});

t.test('a restored replica resumes catching up to a stable checkpoint above its last commit', async (t) => {
  const records = new Map<string, Uint8Array>();
  const r = replica(1, records);
  const hash = new Uint8Array(32).fill(4);
  const root = new Uint8Array(32).fill(5);
  for (const i of [0, 2, 3]) feed(r, i, checkpoint(g, i, 4, hash, root, 4).bytes, records);
  t.equal(r.stats().stableCheckpoints, 1, 'stable at 4 with nothing committed');
  const back = replica(1, records);
  const first = back.step({ type: 'tick', now: 1 });
  const fetches = sent(first, MessageType.fetch) as Fetch[];
  t.equal(fetches.length, 1, 'the first step after the restart asks a peer for the blocks');
  t.equal(fetches[0]?.fromHeight, 1, 'from height 1');
});

t.test(
  'ADR 0112: a lone suspicion keeps the replica in its view, voting, and suspecting again',
  async (t) => {
    const r = replica(1);
    r.step({ type: 'propose', txs: [tx(1)], now: 1 });
    const expiry = r.step({ type: 'timeout', timer: Timers.request, now: 1000 });
    t.equal(sent(expiry, MessageType.suspect).length, 1, 'SUSPECT broadcast');
    t.equal(sent(expiry, MessageType.viewChange).length, 0, 'no VIEW-CHANGE');
    t.same([r.view, r.active], [0, true], 'still active in view 0');
    t.equal(armedFor(expiry, Timers.request), 1000, 'suspects again after another T');
    t.equal(expiry.persist.length, 0, 'a suspicion is no promise: nothing persisted');
    // It still takes part in view 0: the late block is prepared and commits.
    const [b] = chain(1);
    t.equal(sent(feed(r, 0, prePrepare(g, 0, 0, b!).bytes), MessageType.prepare).length, 1, 'still PREPAREs');
    feed(r, 2, prepare(g, 2, 0, 1, b!.hash).bytes);
    feed(r, 0, commit(g, 0, 0, 1, b!.hash).bytes);
    t.equal(feed(r, 2, commit(g, 2, 0, 1, b!.hash).bytes).commit.length, 1, 'and the block commits');
    t.equal(r.stats().suspicionsSent, 1);
  },
);

t.test('ADR 0112: f + 1 suspicions since the last commit start the view change', async (t) => {
  const r = replica(1);
  r.step({ type: 'propose', txs: [tx(1), tx(2)], now: 1 });
  // Replica 2 suspected view 0, then block 1 committed here: that suspicion is stale.
  t.equal(sent(feed(r, 2, suspect(g, 2, 0).bytes), MessageType.viewChange).length, 0, 'one is not enough');
  const [b] = chain(1);
  feed(r, 0, prePrepare(g, 0, 0, b!).bytes);
  feed(r, 2, prepare(g, 2, 0, 1, b!.hash).bytes);
  feed(r, 0, commit(g, 0, 0, 1, b!.hash).bytes);
  t.equal(feed(r, 2, commit(g, 2, 0, 1, b!.hash).bytes).commit.length, 1, 'block 1 commits');
  const own = r.step({ type: 'timeout', timer: Timers.request, now: 2000 });
  t.equal(sent(own, MessageType.viewChange).length, 0, 'the pre-commit suspicion no longer counts');
  t.equal(r.view, 0);
  // A second suspicion after the commit: f + 1 = 2 at n = 4.
  const again = feed(r, 3, suspect(g, 3, 0).bytes);
  t.equal(sent(again, MessageType.viewChange).length, 1, 'VIEW-CHANGE for view 1');
  t.same([r.view, r.active], [1, false]);
});

t.test('ADR 0112: without its own timer, a replica follows f + 1 suspicions of others', async (t) => {
  const r = replica(1);
  feed(r, 2, suspect(g, 2, 0).bytes);
  const ready = feed(r, 3, suspect(g, 3, 0).bytes);
  t.equal(sent(ready, MessageType.viewChange).length, 1, 'two others suspect the primary: leave with them');
  t.equal(r.view, 1);
});

t.test('ADR 0112: a VIEW-CHANGE to a later view counts as its sender suspecting this one', async (t) => {
  // Replica 0 already changes view (it abandoned view 0); replica 1's own timer then expires. Without
  // counting the VIEW-CHANGE, 1 would wait for a second SUSPECT that replica 0 never sends.
  const r = replica(1);
  r.step({ type: 'propose', txs: [tx(1)], now: 1 });
  t.equal(
    sent(feed(r, 3, viewChange(g, 3, 2, []).bytes), MessageType.viewChange).length,
    0,
    'one is not f + 1',
  );
  const ready = r.step({ type: 'timeout', timer: Timers.request, now: 1000 });
  t.equal(sent(ready, MessageType.viewChange).length, 1, 'own suspicion + the VIEW-CHANGE: leave view 0');
  t.equal(r.view, 1, 'to the next view; the f + 1 VIEW-CHANGE rule moves it further if the others are there');
});

t.test('ADR 0112: SUSPECT drops: forged, repeated, stale, future, own echo', async (t) => {
  const r = replica(1);
  const good = suspect(g, 2, 0).bytes;
  const forged = good.slice();
  forged[forged.length - 1]! ^= 1;
  feed(r, 2, forged);
  t.equal(dropped(r, DropReason.badSignature), 1, 'a bad signature is not a suspicion');
  feed(r, 2, good);
  feed(r, 2, good);
  t.equal(dropped(r, DropReason.duplicate), 1, 'a sender counts once');
  feed(r, 3, suspect(g, 3, 5).bytes);
  t.equal(dropped(r, DropReason.futureView), 1, 'a suspicion of a view this replica is not in yet');
  t.equal(r.view, 0, 'none of these moved it');
  feed(r, 1, suspect(g, 1, 0).bytes);
  t.equal(dropped(r, DropReason.duplicate), 2, 'its own SUSPECT echoed back');
  feed(r, 0, suspect(g, 0, 0).bytes);
  t.equal(r.view, 1, 'the second distinct suspicion moved it');
  feed(r, 3, suspect(g, 3, 0).bytes);
  t.equal(dropped(r, DropReason.staleView), 1, 'a suspicion of a view it has left');
});

t.test('ADR 0134: f + 1 replicas running a later view pull a replica there, one does not', async (t) => {
  const r = replica(3);
  r.step({ type: 'tick', now: 1000 });
  const b = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
  // One replica's word (it could be faulty): buffered, no view change.
  let ready = feed(r, 1, prepare(g, 1, 3, 1, b.hash).bytes);
  t.ok(r.view === 0 && r.active, 'one sender of view 3 moves nothing');
  t.same(sent(ready, MessageType.viewChange), []);
  // The same sender again, a later view: still one replica.
  feed(r, 1, prepare(g, 1, 5, 1, b.hash).bytes);
  t.ok(r.view === 0 && r.active, 'nor two views from the same sender');
  // A forged signature counts for nothing.
  const forged = prepare(g, 2, 4, 1, b.hash).bytes.slice();
  forged[forged.length - 1]! ^= 1;
  feed(r, 2, forged);
  t.ok(r.view === 0 && r.active, 'nor a message that does not verify');
  // A second replica at view 4: f + 1 = 2 run view 4 or later (replica 1 is at 5).
  ready = feed(r, 2, prepare(g, 2, 4, 1, b.hash).bytes);
  t.ok(r.view === 4 && !r.active, 'it leaves for view 4, the latest view two replicas run');
  const [vc] = sent(ready, MessageType.viewChange);
  t.equal(
    vc?.type === MessageType.viewChange ? vc.newView : undefined,
    4,
    'and asks for it with VIEW-CHANGE',
  );
  t.equal(r.stats().laterViewsJoined, 1);
  // Messages of the view it is changing to are buffered for the NEW-VIEW, not counted again.
  feed(r, 0, prepare(g, 0, 4, 1, b.hash).bytes);
  t.equal(r.view, 4, 'no further move');
  t.equal(r.stats().laterViewsJoined, 1);
});
