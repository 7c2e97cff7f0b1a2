// End-to-end behaviour of four replicas on a tiny synchronous driver (testkit.Cluster): the normal case
// commits (§4.2), checkpoints stabilise (§4.3), and a silenced primary is replaced (§4.4, §4.5.2).
import t from 'tap';
import { referenceVerifier, signerFromSeed, verifyCommitCertificate } from '../wire/index.ts';
import { bytesEqual } from './bytes.ts';
import { DropReason } from './errors.ts';
import { decodeMessage, MessageType, messageLimits } from './messages.ts';
import { RecordKey } from './records.ts';
import { CHAIN, Cluster, makeTestBlock, prePrepare, testGroup, tx } from './testkit.ts';

t.test('normal case: 4 replicas commit every submitted transaction once, in one order (§4.2)', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 30; i++) c.submit(tx(i));
  const ok = c.run(
    () =>
      c.replicas.every((_r, i) => c.committedTx.size === 30 && c.lastApplied[i]! === c.lastApplied[0]!) &&
      c.queue.length === 0,
  );
  t.ok(ok, 'run converged');
  t.equal(c.committedTx.size, 30, 'every tx committed');
  t.ok(c.agreement(), 'no two replicas applied different blocks at a height');
  const seen = new Set<string>();
  let dup = 0;
  for (const [, b] of c.applied[0]!)
    for (const x of b.block.txs) {
      const k = String(x);
      if (seen.has(k)) dup++;
      seen.add(k);
    }
  t.equal(dup, 0, 'no transaction committed twice');
  t.ok(
    c.replicas.every((r) => r.view === 0),
    'no view change in the fault-free case',
  );
  t.ok(c.replicas[0]!.lowWatermark > 0, 'checkpoints became stable and the low watermark moved');
});

t.test('view change: silencing the primary leads to view 1 and commits resume (§4.4, §4.5.2)', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 5; i++) c.submit(tx(i));
  t.ok(
    c.run(() => c.committedTx.size === 5 && c.queue.length === 0),
    'first batch commits in view 0',
  );
  c.silenced.add(0);
  for (let i = 5; i < 12; i++) c.submit(tx(i));
  const ok = c.run(
    () =>
      [1, 2, 3].every((i) => c.replicas[i]!.view >= 1 && c.replicas[i]!.active) && c.committedTx.size === 12,
  );
  t.ok(ok, 'backups moved to a new view and committed the rest');
  t.ok(
    [1, 2, 3].every((i) => c.replicas[i]!.stats().viewChangesStarted >= 1),
    'each backup sent VIEW-CHANGE',
  );
  t.ok(c.agreement(), 'agreement holds across the view change');
  t.equal(c.replicas[1]!.view % 4 !== 0, true, 'the new primary is not the silenced replica');
});

t.test(
  'a primary that crashes mid-pipeline: prepared blocks survive the view change (§4.4 P sets)',
  async (t) => {
    const c = new Cluster(4);
    for (let i = 0; i < 20; i++) c.submit(tx(i));
    // Let only part of the pipeline run, then silence the primary.
    c.run(() => c.queue.length > 0 && c.replicas[1]!.lastCommitted >= 1, 5000);
    c.silenced.add(0);
    const ok = c.run(
      () =>
        [1, 2, 3].every((i) => c.lastApplied[i]! === c.lastApplied[1]!) &&
        c.committedTx.size === 20 &&
        c.queue.length === 0,
    );
    t.ok(ok, 'everything commits after the view change');
    t.ok(c.agreement(), 'no fork');
  },
);

t.test(
  'a replica restarted from its records catches up and never contradicts itself (§4.4 persistence)',
  async (t) => {
    const c = new Cluster(4);
    for (let i = 0; i < 6; i++) c.submit(tx(i));
    c.run(() => c.committedTx.size === 6 && c.queue.length === 0);
    c.silenced.add(3);
    for (let i = 6; i < 30; i++) c.submit(tx(i));
    c.run(() => c.committedTx.size === 30 && c.queue.length === 0);
    c.silenced.delete(3);
    c.restart(3);
    for (let i = 30; i < 40; i++) c.submit(tx(i));
    const ok = c.run(
      () => c.committedTx.size === 40 && c.lastApplied[3]! === c.lastApplied[0]! && c.queue.length === 0,
    );
    t.ok(ok, 'the restarted replica caught up');
    t.ok(c.agreement(), 'agreement');
  },
);

t.test('ADR 0134: a replica restarted in a view the others left joins theirs and votes again', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 5; i++) c.submit(tx(i));
  t.ok(
    c.run(() => c.committedTx.size === 5 && c.queue.length === 0),
    'view 0 commits',
  );
  c.silenced.add(0);
  for (let i = 5; i < 12; i++) c.submit(tx(i));
  t.ok(
    c.run(
      () =>
        [1, 2, 3].every((i) => c.replicas[i]!.view === 1 && c.replicas[i]!.active) &&
        c.committedTx.size === 12 &&
        c.queue.length === 0,
    ),
    'the primary is down: view 1',
  );
  c.silenced.delete(0);
  c.restart(0);
  t.ok(c.replicas[0]!.view === 0 && c.replicas[0]!.active, 'restored in view 0, which nobody else runs');
  for (let i = 12; i < 16; i++) c.submit(tx(i));
  t.ok(
    c.run(
      () =>
        c.committedTx.size === 16 &&
        c.queue.length === 0 &&
        c.lastApplied[0] === c.lastApplied[1] &&
        c.replicas[0]!.view === 1 &&
        c.replicas[0]!.active,
    ),
    'on the traffic of view 1 it joins view 1, with nothing stalled',
  );
  t.equal(c.replicas[0]!.stats().laterViewsJoined, 1);
  // It votes again: with replica 3 down, replicas 0, 1 and 2 are a quorum of view 1 as it stands.
  const started = c.replicas.map((r) => r.stats().viewChangesStarted);
  c.silenced.add(3);
  for (let i = 16; i < 24; i++) c.submit(tx(i));
  t.ok(
    c.run(() => c.committedTx.size === 24 && c.queue.length === 0),
    'commits go on without replica 3',
  );
  t.same(
    c.replicas.map((r) => r.view),
    [1, 1, 1, 1],
    'still view 1',
  );
  t.same(
    c.replicas.map((r) => r.stats().viewChangesStarted),
    started,
    'no further view change',
  );
  t.ok(c.agreement(), 'agreement');
});

t.test('real ed25519 signatures end to end (wire signerFromSeed + referenceVerifier)', async (t) => {
  const signers = [1, 2, 3, 4].map((i) => signerFromSeed(new Uint8Array(32).fill(i)));
  const c = new Cluster(4, {}, testGroup(4, { signers, verifier: referenceVerifier }));
  for (let i = 0; i < 4; i++) c.submit(tx(i));
  t.ok(
    c.run(() => c.committedTx.size === 4 && c.queue.length === 0),
    'commits with real signatures',
  );
  const cert = c.applied[2]!.get(1)!;
  t.doesNotThrow(
    () =>
      verifyCommitCertificate(CHAIN, cert.certificate, cert.block.header, c.g.validators, referenceVerifier),
    'the delivered commit certificate verifies with the reference ed25519 verifier',
  );
});

t.test('n = 7 (f = 2): two silent replicas including the primary, still live and safe', async (t) => {
  const c = new Cluster(7);
  c.silenced.add(0);
  c.silenced.add(4);
  for (let i = 0; i < 10; i++) c.submit(tx(i));
  t.ok(
    c.run(() => c.committedTx.size === 10 && c.queue.length === 0),
    'q = 5 of the 5 live replicas suffice',
  );
  t.ok(c.agreement());
});

t.test(
  'an equivocating primary cannot split the backups; what prepared survives the view change (§4.2, §4.4)',
  async (t) => {
    const c = new Cluster(4);
    c.down.add(0); // replica 0 is Byzantine: driven by hand below, its Replica never runs
    const a = makeTestBlock(4, 0, 1, undefined, [tx(100)], { timestamp: 1001 });
    const b = makeTestBlock(4, 0, 1, undefined, [tx(200)], { timestamp: 1001 });
    c.queue.push({ from: 0, to: 1, message: prePrepare(c.g, 0, 0, a).bytes });
    c.queue.push({ from: 0, to: 2, message: prePrepare(c.g, 0, 0, a).bytes });
    c.queue.push({ from: 0, to: 3, message: prePrepare(c.g, 0, 0, b).bytes });
    c.queue.push({ from: 0, to: 3, message: prePrepare(c.g, 0, 0, a).bytes }); // and A to 3 too, late
    c.mempool.push(tx(1));
    const ok = c.run(() => [1, 2, 3].every((i) => c.lastApplied[i]! >= 2) && c.queue.length === 0);
    t.ok(ok, 'the correct replicas move to a new view and keep committing');
    t.ok(c.agreement(), 'agreement');
    const first = c.applied[1]!.get(1)!;
    t.ok(
      bytesEqual(first.certificate.blockHash, a.hash),
      'block A, prepared by a quorum in view 0, is the block at height 1',
    );
    t.ok(
      (c.replicas[3]!.stats().dropped[DropReason.equivocation] ?? 0) >= 1,
      'replica 3 recorded the equivocation',
    );
  },
);

t.test(
  'ADR 0121: a replica back on a new disk follows as an observer until it cannot contradict its past votes',
  async (t) => {
    const c = new Cluster(4);
    const limits = messageLimits(c.g.config(0));
    let next = 0;
    const load = (k: number) => {
      for (let i = 0; i < k; i++) c.submit(tx(next++));
    };
    load(40);
    t.ok(
      c.run(() => c.committedTx.size === 40 && c.queue.length === 0),
      'the network commits',
    );
    const before = c.lastApplied[2]!;
    const skew = c.g.config(2).maxClockSkewMs;
    c.loseEverything(2, c.now + skew);
    const r = c.replicas[2]!;
    t.equal(r.id, -1, 'no member while recovering');
    t.equal(r.recoveringUntil, null, 'how long is not known yet');
    t.ok(c.records[2]!.has(RecordKey.recovery), 'the recovery is persisted before anything is sent');

    // Every vote replica 2 sends is recorded with the recovery state at that moment.
    const votes: { type: number; recovering: boolean }[] = [];
    c.deliverIf = (m) => {
      if (m.from === 2) {
        const type = decodeMessage(m.message, limits).type;
        if (type !== MessageType.checkpoint && type !== MessageType.fetch)
          votes.push({ type, recovering: c.replicas[2]!.recoveringUntil !== undefined });
      }
      return true;
    };
    // Keep the chain moving past the skew, one small batch per tick of virtual time.
    let until: number | null | undefined = null;
    for (let round = 0; round < 400 && c.replicas[2]!.recoveringUntil !== undefined; round++) {
      load(2);
      c.run(() => c.queue.length === 0);
      c.now += 100;
      for (let i = 0; i < 4; i++) c.step(i, { type: 'tick', now: c.now });
      if (c.replicas[2]!.recoveringUntil !== null && c.replicas[2]!.recoveringUntil !== undefined)
        until = c.replicas[2]!.recoveringUntil;
    }
    t.equal(c.replicas[2]!.recoveringUntil, undefined, 'recovery ended');
    t.ok(
      typeof until === 'number' && until > before,
      `it waited until height ${until} (had applied ${before})`,
    );
    t.equal(c.replicas[2]!.id, 2, 'a member again');
    t.notOk(c.records[2]!.has(RecordKey.recovery), 'the record is gone');
    t.notOk(
      votes.some((v) => v.recovering),
      'no PREPARE, COMMIT, PRE-PREPARE, VIEW-CHANGE or SUSPECT while recovering',
    );
    load(8);
    t.ok(
      c.run(() => c.committedTx.size === next && c.queue.length === 0),
      'the rest commits',
    );
    t.ok(
      votes.some((v) => v.type === MessageType.prepare || v.type === MessageType.commit),
      'and it votes again',
    );
    t.ok(c.agreement(), 'agreement holds');
    t.equal(c.lastApplied[2], c.lastApplied[0], 'it applied every block');
  },
);

t.test('ADR 0121: a crash during recovery does not end it', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 12; i++) c.submit(tx(i));
  t.ok(c.run(() => c.committedTx.size === 12 && c.queue.length === 0));
  c.loseEverything(1, c.now + 60_000);
  c.down.add(1);
  c.restart(1);
  t.equal(c.replicas[1]!.recoveringUntil, null, 'still recovering after the restart');
  t.equal(c.replicas[1]!.id, -1);
});

t.test('ADR 0125: an idle primary cites the quiet chain state in blocks without transactions', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 3; i++) c.submit(tx(i));
  t.ok(
    c.run(
      () =>
        c.committedTx.size === 3 &&
        c.queue.length === 0 &&
        c.lastApplied.every((h) => h === c.lastApplied[0]),
    ),
  );
  const last = c.lastApplied[0]!;
  const citedBy = (h: number) => c.applied[0]!.get(h)!.block.header.stateHeight;
  t.ok(citedBy(last) < last, 'nothing cites the state after the last block yet');
  const idle = () => c.queue.length === 0;

  // A backup only starts expecting it (ADR 0128: the next block, citing `last`, meets that); the primary
  // ignores it while transactions are pending.
  c.step(1, { type: 'citeState', through: last, now: c.now });
  t.equal(c.replicas[1]!.stats().awaitedCitation, last, 'the backup expects a citation of the quiet state');
  t.equal(c.queue.length, 0, 'a backup proposes nothing');
  c.mempool.push(tx(99));
  c.step(0, { type: 'propose', txs: c.mempool, now: c.now });
  c.step(0, { type: 'citeState', through: last, now: c.now });
  const pendingBlock = c.applied[0]!.size;
  t.ok(c.run(() => c.committedTx.size === 4 && idle()));
  t.ok(
    [...c.applied[0]!.values()].slice(pendingBlock).every((b) => b.block.txs.length > 0),
    'no block without transactions while transactions are pending',
  );
  c.propose(); // the node tells it nothing is pending
  const top = c.lastApplied[0]!;

  c.step(0, { type: 'citeState', through: top, now: c.now });
  t.ok(
    c.run(() => c.lastApplied.every((h) => h === top + 1) && idle()),
    'every replica commits it',
  );
  const cite = c.applied[0]!.get(top + 1)!.block;
  t.equal(cite.txs.length, 0);
  t.equal(cite.header.stateHeight, top, 'it cites the state after the last block');
  t.ok(c.agreement());

  // Reached: asking again proposes nothing; a `through` beyond what it can cite needs more blocks,
  // each citing a later height, and stops there.
  c.step(0, { type: 'citeState', through: top, now: c.now });
  t.equal(c.queue.length, 0, 'nothing proposed once a committed header cites `through`');
  for (let k = 0; k < 3; k++) {
    c.step(0, { type: 'citeState', through: top + 3, now: c.now });
    c.run(idle);
  }
  t.equal(c.lastApplied[0], top + 4);
  t.equal(c.applied[0]!.get(top + 4)!.block.header.stateHeight, top + 3);
  c.step(0, { type: 'citeState', through: top + 3, now: c.now });
  c.step(0, { type: 'citeState', through: top + 1 + 5000, now: c.now });
  t.equal(c.queue.length, 0, 'and a through far beyond the executed height is ignored');
  t.ok(
    c.replicas.every((r) => r.view === 0),
    'no view change',
  );
});

t.test(
  'ADR 0128: backups that expect the quiet state cited replace a primary that does not cite it',
  async (t) => {
    const c = new Cluster(4);
    for (let i = 0; i < 3; i++) c.submit(tx(i));
    t.ok(
      c.run(
        () =>
          c.committedTx.size === 3 &&
          c.queue.length === 0 &&
          c.lastApplied.every((h) => h === c.lastApplied[0]),
      ),
    );
    const last = c.lastApplied[0]!;
    // The primary crashes in the quiet period, before its node asks it to cite.
    c.silenced.add(0);
    const idleFor = c.now + 60_000;
    c.run(() => c.now > idleFor); // a minute of ticks with the request timer of no backup armed
    t.ok(
      c.replicas.slice(1).every((r) => r.view === 0),
      'a quiet chain alone starts no view change',
    );
    for (const i of [1, 2, 3]) c.step(i, { type: 'citeState', through: last, now: c.now });
    t.ok(
      c.run(() => [1, 2, 3].every((i) => c.replicas[i]!.view >= 1 && c.replicas[i]!.active)),
      'the backups suspect the primary and change view',
    );
    const primary = [1, 2, 3].find((i) => c.replicas[i]!.isPrimary)!;
    t.ok(primary !== undefined, 'a live replica is the new primary');
    t.ok(
      [1, 2, 3].every((i) => c.replicas[i]!.stats().awaitedCitation === last),
      'the expectation outlives the view change',
    );
    // The new primary's node finds the state still uncited and asks it.
    c.step(primary, { type: 'citeState', through: last, now: c.now });
    t.ok(
      c.run(() =>
        [1, 2, 3].every((i) => {
          const s = c.replicas[i]!.stats();
          return s.citedThrough >= last;
        }),
      ),
      'a committed header cites the quiet state',
    );
    const view = c.replicas[1]!.view;
    const settle = c.now + 30_000;
    c.run(() => c.now > settle);
    t.ok(
      [1, 2, 3].every((i) => c.replicas[i]!.view === view),
      'met: no further view change',
    );
    t.ok(c.agreement());
  },
);

t.test('ADR 0128: a backup expects nothing absurd, and forgets on a state transfer', async (t) => {
  const c = new Cluster(4);
  c.submit(tx(1));
  t.ok(c.run(() => c.committedTx.size === 1 && c.queue.length === 0));
  const last = c.lastApplied[1]!;
  for (const through of [0, -1, 1.5, Number.NaN, last + 1 + 5000])
    c.step(1, { type: 'citeState', through, now: c.now });
  t.equal(c.replicas[1]!.stats().awaitedCitation, 0, 'nothing expected from a bad `through`');
  c.step(1, { type: 'citeState', through: last, now: c.now });
  t.equal(c.replicas[1]!.stats().awaitedCitation, last);
  // Blocks applied by state transfer never pass the replica's commit path, so it cannot tell what
  // their headers cite: it drops the expectation rather than suspect a primary that may have cited.
  c.step(1, {
    type: 'stateTransferred',
    height: last + 4,
    stateRoot: new Uint8Array(32).fill(7),
    blockHash: new Uint8Array(32).fill(9),
  });
  t.equal(c.replicas[1]!.lastCommitted, last + 4);
  t.equal(c.replicas[1]!.stats().awaitedCitation, 0, 'forgotten on a state transfer');
});
