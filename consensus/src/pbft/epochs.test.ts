// Validator-set epochs (ADR 0015) on the synchronous test cluster: a fifth validator joins at a
// checkpoint boundary and votes from the next height on, a removed one stops voting and keeps
// following, certificates verify against the set of their height's epoch, and the driver contract
// (reconfigure before the deciding block's `executed`) is enforced.
import t from 'tap';
import { quorumSize, verifyCommitCertificate } from '../wire/index.ts';
import { epochKnownThrough } from './epochs.ts';
import { PbftConfigError } from './errors.ts';
import { createMessage, decodeMessage, MessageType, type ViewChange } from './messages.ts';
import { Replica } from './replica.ts';
import { CHAIN, Cluster, checkpoint, type TestGroup, testGroup, tx } from './testkit.ts';
import type { ReplicaConfig } from './types.ts';

/** A group of `total` keys whose genesis set is the first `genesis`; the others join later. */
function growingGroup(total: number, genesis: number): TestGroup {
  const all = testGroup(total);
  const validators = all.validators.slice(0, genesis);
  return {
    ...all,
    validators,
    config: (self, overrides = {}) => {
      const base = all.config(self, overrides);
      const c: ReplicaConfig = { ...base, validators };
      return self < genesis ? c : { ...c, self: 0, selfKey: all.validators[self]! };
    },
  };
}

function verifyAgainst(
  cert: Parameters<typeof verifyCommitCertificate>[1],
  header: Parameters<typeof verifyCommitCertificate>[2],
  set: Uint8Array[],
  crypto: TestGroup['crypto'],
): boolean {
  try {
    verifyCommitCertificate(CHAIN, cert, header, set, crypto);
    return true;
  } catch {
    return false;
  }
}

function drive(c: Cluster, total: number, until: () => boolean): boolean {
  let i = 0;
  return c.run(() => {
    if (c.queue.length === 0 && i < total) c.submit(tx(i++));
    return until();
  }, 200_000);
}

t.test(
  'epochKnownThrough: a change decided at h starts above what a replica at h-1 may vote on',
  async (t) => {
    for (const k of [1, 2, 4, 16]) {
      for (let h = 1; h < 5 * k; h++) {
        const a = (Math.floor(h / k) + 2) * k;
        t.equal(epochKnownThrough(h - 1, k), a, `K=${k} h=${h}: known through A exactly`);
        t.ok(epochKnownThrough(h, k) >= a, 'executing h makes A itself known');
      }
    }
  },
);

t.test('a fifth validator joins at the boundary and votes from the next height on', async (t) => {
  const g = growingGroup(5, 4);
  const all = testGroup(5); // same seeds, so the same keys
  const c = new Cluster(5, {}, g);
  // Block 2 decides the change: A = floor(2/4)*4 + 2*4 = 8, the new set certifies heights 9, 10, ...
  c.decisions.set(2, { fromHeight: 9, validators: all.validators });
  const ok = drive(c, 60, () => c.lastApplied.every((h) => h >= 24) && c.queue.length === 0);
  t.ok(ok, 'all five nodes applied 24+ blocks');
  t.ok(c.agreement(), 'agreement');
  const r4 = c.replicas[4]!;
  t.equal(r4.epoch.index, 1, 'the new node is in epoch 1');
  t.equal(r4.id, 4, 'and is its fifth member');
  t.equal(c.replicas[0]!.epoch.start, 9, 'epoch 1 starts right after checkpoint 8');
  let signedByNew = 0;
  for (const [h, b] of c.applied[0]!) {
    const set = h <= 8 ? g.validators : all.validators;
    t.ok(
      verifyAgainst(b.certificate, b.block.header, set, g.crypto),
      `certificate ${h} verifies against its epoch`,
    );
    if (h <= 8)
      t.ok(
        b.certificate.votes.every((v) => v.validator < 4),
        `height ${h}: genesis indices only`,
      );
    if (h > 8) {
      t.ok(b.certificate.votes.length >= quorumSize(5), `height ${h}: a five-member quorum signed`);
      if (b.certificate.votes.some((v) => v.validator === 4)) signedByNew++;
    }
  }
  t.ok(signedByNew > 0, `the new validator's COMMIT is in ${signedByNew} certificates`);
  t.same(
    c.applied[4]!.get(12)?.certificate.blockHash,
    c.applied[0]!.get(12)?.certificate.blockHash,
    'it applied the same blocks',
  );
});

t.test('a removed validator stops voting after the boundary and keeps following', async (t) => {
  const g = testGroup(5);
  const c = new Cluster(5, {}, g);
  const remaining = g.validators.filter((_, i) => i !== 1);
  c.decisions.set(3, { fromHeight: 9, validators: remaining });
  const votesAfter: number[] = [];
  const handle = c.handle.bind(c);
  c.handle = (i, r) => {
    if (i === 1) {
      for (const s of r.send) {
        const m = decodeMessage(s.message, { n: 5, windowSize: 8, maxBlockTxs: 16, maxBlockBytes: 65536 });
        if ((m.type === MessageType.prepare || m.type === MessageType.commit) && m.height > 8)
          votesAfter.push(m.height);
        if (m.type === MessageType.checkpoint && m.height > 8) votesAfter.push(m.height);
      }
    }
    handle(i, r);
  };
  const ok = drive(c, 60, () => c.lastApplied.every((h) => h >= 24) && c.queue.length === 0);
  t.ok(ok, 'commits continue and the removed node keeps up');
  t.ok(c.agreement(), 'agreement');
  t.equal(c.replicas[1]!.id, -1, 'the removed node is no member of epoch 1');
  t.same(votesAfter, [], 'it sent no PREPARE, COMMIT or CHECKPOINT above the boundary');
  for (const [h, b] of c.applied[0]!) {
    const set = h <= 8 ? g.validators : remaining;
    t.ok(
      verifyAgainst(b.certificate, b.block.header, set, g.crypto),
      `certificate ${h} verifies against its epoch`,
    );
  }
  t.ok(c.lastApplied[1]! >= 24, 'the observer applied every block');
});

t.test('restart after the switch: the epoch history is restored from the records', async (t) => {
  const g = testGroup(5);
  const c = new Cluster(5, {}, g);
  const remaining = g.validators.filter((_, i) => i !== 4);
  c.decisions.set(1, { fromHeight: 9, validators: remaining });
  t.ok(
    drive(c, 30, () => c.lastApplied.every((h) => h >= 14)),
    'past the boundary',
  );
  c.down.add(2);
  c.restart(2);
  t.equal(c.replicas[2]!.epoch.index, 1, 'restored in epoch 1');
  t.equal(c.replicas[2]!.epoch.validators.length, 4, 'with the four-member set');
  t.ok(
    drive(c, 80, () => c.lastApplied.every((h) => h >= 30) && c.queue.length === 0),
    'commits continue',
  );
  t.ok(c.agreement(), 'agreement');
});

t.test('a node that missed the boundary CHECKPOINTs still switches and catches up', async (t) => {
  const g = testGroup(4);
  const c = new Cluster(4, {}, g);
  c.decisions.set(2, { fromHeight: 9, validators: g.validators.slice().reverse() });
  t.ok(
    drive(c, 10, () => c.lastApplied.every((h) => h >= 6)),
    'before the boundary',
  );
  c.silenced.add(3);
  t.ok(
    drive(c, 40, () => [0, 1, 2].every((i) => c.lastApplied[i]! >= 9)),
    'three commit across it',
  );
  c.silenced.delete(3);
  t.ok(
    drive(c, 80, () => c.lastApplied.every((h) => h >= 24) && c.queue.length === 0),
    'all four continue',
  );
  t.equal(c.replicas[3]!.epoch.index, 1, 'the laggard switched');
  t.ok(c.agreement(), 'agreement');
});

t.test('driver contract: a change must start above the heights the replica may have voted on', async (t) => {
  const g = testGroup(4);
  const r = Replica.create(g.config(0), g.deps(0));
  // Nothing executed: heights up to 8 may already carry this replica's votes.
  t.throws(
    () => r.step({ type: 'reconfigure', fromHeight: 9 - 4, validators: g.validators }),
    PbftConfigError,
  );
  t.throws(
    () => r.step({ type: 'reconfigure', fromHeight: 8, validators: g.validators }),
    PbftConfigError,
    'not a checkpoint + 1',
  );
  t.throws(
    () => r.step({ type: 'reconfigure', fromHeight: 13, validators: [] }),
    PbftConfigError,
    'empty set',
  );
  const ready = r.step({ type: 'reconfigure', fromHeight: 9, validators: g.validators.slice(0, 3) });
  t.ok(
    ready.persist.some((p) => p.key === 'pbft/epochs'),
    'the epoch history is persisted',
  );
  t.same(
    r.step({ type: 'reconfigure', fromHeight: 9, validators: g.validators.slice(0, 3) }).persist,
    [],
    'a repeat is ignored',
  );
  // Two changes decided in one checkpoint interval start at the same height: the later full set wins.
  r.step({ type: 'reconfigure', fromHeight: 9, validators: g.validators.slice(1) });
  t.same(
    r.epochs()[1]!.validators,
    g.validators.slice(1),
    'a second change for the same start replaces the first',
  );
  t.equal(r.epochs().length, 2, 'still one epoch after genesis');
  r.step({ type: 'reconfigure', fromHeight: 13, validators: g.validators });
  t.throws(
    () => r.step({ type: 'reconfigure', fromHeight: 9, validators: g.validators }),
    PbftConfigError,
    'an epoch followed by a later one cannot be replaced',
  );
  t.equal(r.stats().highWatermark, 8, 'the window now ends at the boundary');
});

t.test('the roster order survives a restart, including keys a replaced change named', async (t) => {
  const g = testGroup(6);
  const genesis = g.validators.slice(0, 4);
  const cfg = { ...g.config(0), validators: genesis };
  const r = Replica.create(cfg, g.deps(0));
  const records = new Map<string, Uint8Array>();
  const step = (e: Parameters<Replica['step']>[0]) => {
    for (const p of r.step(e).persist) if (p.value !== null) records.set(p.key, p.value);
  };
  step({ type: 'reconfigure', fromHeight: 9, validators: [...genesis, g.validators[4]!] });
  step({ type: 'reconfigure', fromHeight: 9, validators: genesis.slice(1) });
  step({ type: 'reconfigure', fromHeight: 13, validators: [...genesis, g.validators[5]!] });
  t.equal(r.roster.length, 6, 'the replaced change still named key 4');
  const back = Replica.restore(cfg, g.deps(0), records);
  t.same(back.roster, r.roster, 'same roster ids after restore');
  t.same(
    back.epochs().map((e) => e.start),
    [1, 9, 13],
    'same epochs',
  );
});

t.test(
  'a VIEW-CHANGE from the next epoch is placed there, not dropped as this replica’s own index',
  async (t) => {
    const g = testGroup(4);
    // Roster 1 is index 1 in epoch 0 {0,1,2,3}; in epoch 1 {1,2,3} index 1 is roster 2.
    const r = Replica.create(g.config(1), g.deps(1));
    r.step({ type: 'reconfigure', fromHeight: 9, validators: g.validators.slice(1) });
    const hash = new Uint8Array(32).fill(8);
    const root = new Uint8Array(32).fill(9);
    const proof = [0, 2, 3].map((i) => checkpoint(g, i, 8, hash, root, 8).bytes);
    const vc = createMessage<ViewChange>(CHAIN, g.signers[2]!, {
      type: MessageType.viewChange,
      newView: 1,
      checkpointProof: proof,
      prepared: [],
      replica: 1,
    });
    r.step({ type: 'receive', from: 2, message: vc.bytes });
    t.equal(r.stats().dropped.DUPLICATE ?? 0, 0, 'not taken for its own message');
    t.equal(r.epoch.index, 1, 'the boundary checkpoint it carries moved the replica to epoch 1');
    t.equal(r.id, 0, 'where it is index 0');
  },
);

t.test(
  'a stable proof adopted under an older epoch while lagging is completed to its epoch’s quorum',
  async (t) => {
    const g = testGroup(4);
    const genesis = g.validators.slice(0, 3);
    const records = new Map<string, Uint8Array>();
    const cfg = { ...g.config(1), validators: genesis };
    const r = Replica.create(cfg, g.deps(1));
    const step = (e: Parameters<Replica['step']>[0]) => {
      const ready = r.step(e);
      for (const p of ready.persist) {
        if (p.value === null) records.delete(p.key);
        else records.set(p.key, p.value);
      }
      return ready;
    };
    const feed = (from: number, message: Uint8Array) => step({ type: 'receive', from, message });
    const hash = new Uint8Array(32).fill(12);
    const root = new Uint8Array(32).fill(13);
    // Knowing only the genesis set (q = 2 of 3), two CHECKPOINTs for 12 make it stable: ADR 0015's
    // lagging replica. Height 12 really belongs to a four-member epoch from 9 (q = 3).
    feed(0, checkpoint(g, 0, 12, hash, root, 12).bytes);
    feed(2, checkpoint(g, 2, 12, hash, root, 12).bytes);
    t.equal(r.stats().stableCheckpoints, 1, 'stable at 12 on two votes');
    step({ type: 'reconfigure', fromHeight: 9, validators: g.validators });
    feed(0, checkpoint(g, 0, 12, hash, root, 12).bytes);
    t.equal(r.stats().stableProofsCompleted, 0, 'a vote already in the proof adds nothing');
    feed(3, checkpoint(g, 3, 12, hash, root, 12).bytes);
    t.equal(r.stats().stableProofsCompleted, 1, 'the new member’s vote completes it');
    const back = Replica.restore(cfg, g.deps(1), records);
    t.equal(back.stats().lowWatermark, 12, 'the persisted, completed proof restores');
    feed(0, checkpoint(g, 1, 12, hash, root, 12).bytes);
    t.equal(r.stats().dropped.OUT_OF_WINDOW, 1, 'once it holds, further votes are old news');
  },
);
