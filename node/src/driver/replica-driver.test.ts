import { type CommittedBlock, Replica } from '@vigil/consensus/pbft';
import { CHAIN, testGroup, tx } from '@vigil/consensus/pbft/testkit.ts';
import { blockHash, sha256, verifyCommitCertificate } from '@vigil/consensus/wire';
import t from 'tap';
import {
  type CommitSink,
  type ConsensusOutbox,
  type RecordSink,
  ReplicaDriver,
  type TimerHost,
} from './replica-driver.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** An in-memory node: records in a Map, a hash-chained fake state root, and a log of operations. */
class FakeNode implements RecordSink, CommitSink {
  readonly records = new Map<string, Uint8Array>();
  readonly applied: CommittedBlock[] = [];
  readonly ops: string[] = [];
  root: Uint8Array = new Uint8Array(32);
  persisting = 0;

  async persist(records: readonly { key: string; value: Uint8Array | null }[]): Promise<void> {
    this.persisting++;
    this.ops.push('persist:start');
    await new Promise<void>((r) => setImmediate(r));
    for (const r of records) {
      if (r.value === null) this.records.delete(r.key);
      else this.records.set(r.key, r.value);
    }
    this.ops.push('persist:end');
    this.persisting--;
  }
  appliedHeight(): number {
    return this.applied.length;
  }
  async apply(c: CommittedBlock): Promise<{
    height: number;
    stateRoot: Uint8Array;
    reconfigurations?: { fromHeight: number; validators: Uint8Array[] }[];
  }> {
    if (c.block.header.height !== this.applied.length + 1) throw new Error('out of order');
    this.applied.push(c);
    this.root = sha256(this.root, blockHash(c.block.header));
    this.ops.push(`apply:${c.block.header.height}`);
    return { height: c.block.header.height, stateRoot: this.root };
  }
}

/** Timers that never fire on their own: the normal case must commit without any timeout. */
const inertTimers: TimerHost = { set: () => ({}), clear: () => {} };

function cluster(n: number) {
  const g = testGroup(n);
  const nodes = Array.from({ length: n }, () => new FakeNode());
  const drivers: ReplicaDriver[] = [];
  const violations: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = nodes[i]!;
    const outbox: ConsensusOutbox = {
      send: (to, message) => {
        if (node.persisting > 0) violations.push(`replica ${i} sent while persisting`);
        node.ops.push('send');
        drivers[to]!.enqueue({ type: 'receive', from: i, message });
      },
      broadcast: (message) => {
        if (node.persisting > 0) violations.push(`replica ${i} broadcast while persisting`);
        node.ops.push('send');
        for (let j = 0; j < n; j++) if (j !== i) drivers[j]!.enqueue({ type: 'receive', from: i, message });
      },
    };
    drivers.push(
      new ReplicaDriver({
        replica: Replica.create(g.config(i), g.deps(i)),
        records: node,
        outbox,
        commits: node,
        stateTransfer: { transfer: () => Promise.reject(new Error('not in this test')) },
        clock: () => 1_000,
        timers: inertTimers,
      }),
    );
  }
  return { g, nodes, drivers, violations };
}

async function settle(drivers: ReplicaDriver[]) {
  for (let round = 0; round < 50; round++) {
    await Promise.all(drivers.map((d) => d.idle()));
    await new Promise<void>((r) => setImmediate(r));
  }
}

t.test('four drivers commit the same blocks, persisting before every send', async (t) => {
  const { nodes, drivers, violations } = cluster(4);
  for (const d of drivers) d.start(new Uint8Array(32));
  const txs = Array.from({ length: 20 }, (_, i) => tx(i));
  for (const d of drivers) d.enqueue({ type: 'propose', txs, now: 1_000 });
  await settle(drivers);

  t.same(violations, [], 'no message left while its records were being persisted');
  const heights = nodes.map((n) => n.applied.length);
  t.ok(heights[0]! >= 2, `blocks were committed (${heights[0]})`);
  t.same(heights, [heights[0], heights[0], heights[0], heights[0]], 'all replicas applied the same height');
  const chains = nodes.map((n) => n.applied.map((c) => hex(blockHash(c.block.header))).join(','));
  t.equal(new Set(chains).size, 1, 'identical block hashes at every height');
  const committedTxs = nodes[0]!.applied.flatMap((c) => c.block.txs.map(hex));
  t.equal(committedTxs.length, 20, 'every proposed transaction committed');
  t.equal(new Set(committedTxs).size, 20, 'none twice');
  for (const n of nodes) {
    const firstSend = n.ops.indexOf('send');
    const firstPersist = n.ops.indexOf('persist:end');
    t.ok(firstPersist >= 0 && firstPersist < firstSend, 'the first send follows a completed persist');
  }
  await Promise.all(drivers.map((d) => d.stop()));
});

t.test('a restarted driver resumes from its records without re-applying', async (t) => {
  const { g, nodes, drivers } = cluster(4);
  for (const d of drivers) d.start(new Uint8Array(32));
  for (const d of drivers) d.enqueue({ type: 'propose', txs: [tx(1), tx(2)], now: 1_000 });
  await settle(drivers);
  const node = nodes[1]!;
  const before = node.applied.length;
  t.ok(before >= 1);
  await drivers[1]!.stop();

  const restored = Replica.restore(g.config(1), g.deps(1), node.records);
  const again = isolatedDriver(restored, node, undefined, node.root);
  await again.idle();
  t.equal(node.applied.length, before, 'no block applied twice after restart');
  t.equal(restored.lastCommitted, before, 'the replica knows what it committed');
  await again.stop();
  await Promise.all(drivers.map((d) => d.stop()));
});

t.test('a failed fsync stops the driver instead of sending', async (t) => {
  const g = testGroup(4);
  const sent: Uint8Array[] = [];
  const d = new ReplicaDriver({
    replica: Replica.create(g.config(0), g.deps(0)),
    records: { persist: () => Promise.reject(new Error('EIO')) },
    outbox: { send: (_to, m) => sent.push(m), broadcast: (m) => sent.push(m) },
    commits: { appliedHeight: () => 0, apply: () => Promise.reject(new Error('unused')) },
    stateTransfer: { transfer: () => Promise.reject(new Error('unused')) },
    clock: () => 1_000,
    timers: inertTimers,
  });
  d.start(new Uint8Array(32));
  d.enqueue({ type: 'propose', txs: [tx(1)], now: 1_000 });
  await d.idle();
  t.equal(sent.length, 0, 'the pre-prepare whose record could not be persisted never left');
  t.match(d.fatal, { code: 'PERSIST_FAILED' });
  await d.stop();
});

t.test('a flood of received messages beyond the queue bound is dropped and counted', (t) => {
  const g = testGroup(4);
  const d = new ReplicaDriver({
    replica: Replica.create(g.config(1), g.deps(1)),
    records: { persist: async () => {} },
    outbox: { send() {}, broadcast() {} },
    commits: { appliedHeight: () => 0, apply: () => Promise.reject(new Error('unused')) },
    stateTransfer: { transfer: () => Promise.reject(new Error('unused')) },
    clock: () => 1_000,
    timers: inertTimers,
    maxQueuedEvents: 10,
  });
  // Not started: events only queue.
  let accepted = 0;
  for (let i = 0; i < 100; i++)
    if (d.enqueue({ type: 'receive', from: 0, message: new Uint8Array(8) })) accepted++;
  t.equal(accepted, 10);
  t.equal(d.stats().eventsDropped, 90);
  t.end();
});

t.test('a replica that missed blocks catches up through syncBlocks and then follows', async (t) => {
  const { nodes, drivers } = cluster(4);
  // Replica 3 is cut off: nothing reaches it.
  const cut = drivers[3]!;
  const enqueue = cut.enqueue.bind(cut);
  let isolated = true;
  cut.enqueue = (e) => (isolated && e.type === 'receive' ? false : enqueue(e));
  for (const d of drivers) d.start(new Uint8Array(32));
  for (const d of drivers.slice(0, 3)) d.enqueue({ type: 'propose', txs: [tx(1), tx(2), tx(3)], now: 1_000 });
  await settle(drivers);
  const target = nodes[0]!.applied.length;
  t.ok(target >= 1, 'the other three committed without it');
  t.equal(nodes[3]!.applied.length, 0);

  const height = await cut.syncBlocks(nodes[0]!.applied);
  t.equal(height, target, 'synced to the others height');
  t.equal(cut.replica.lastCommitted, target, 'the replica was told where it stands');
  t.same(nodes[3]!.root, nodes[0]!.root, 'same state root');
  t.equal(await cut.syncBlocks(nodes[0]!.applied), target, 'syncing the same blocks again is a no-op');

  isolated = false;
  for (const d of drivers) d.enqueue({ type: 'propose', txs: [tx(4)], now: 1_001 });
  await settle(drivers);
  t.equal(nodes[3]!.applied.length, nodes[0]!.applied.length, 'it follows new commits afterwards');
  t.same(nodes[3]!.root, nodes[0]!.root);
  await Promise.all(drivers.map((d) => d.stop()));
});

/** A started driver with no peers and inert timers (block sync, restarts). */
function isolatedDriver(
  replica: Replica,
  node: FakeNode,
  onApplied?: ConstructorParameters<typeof ReplicaDriver>[0]['onApplied'],
  root: Uint8Array = new Uint8Array(32),
): ReplicaDriver {
  const d = new ReplicaDriver({
    replica,
    records: node,
    outbox: { send() {}, broadcast() {} },
    commits: node,
    stateTransfer: { transfer: () => Promise.reject(new Error('unused')) },
    clock: () => 2_000,
    timers: inertTimers,
    ...(onApplied ? { onApplied } : {}),
  });
  d.start(root);
  return d;
}

/** Checks a synced block's certificate against the set `replica` holds for its height. */
function checkAgainstEpoch(replica: Replica, g: ReturnType<typeof testGroup>) {
  return (c: CommittedBlock) =>
    verifyCommitCertificate(
      CHAIN,
      c.certificate,
      c.block.header,
      replica.validatorsAt(c.block.header.height),
      g.crypto,
    );
}

/**
 * Four drivers whose application decides at block 2 that the same keys in reverse order certify heights
 * 9+, run until `blocks` are committed (transactions numbered from `txBase`).
 */
async function reconfiguringCluster(blocks: number, txBase: number) {
  const c = cluster(4);
  const reversed = [...c.g.validators].reverse();
  for (const node of c.nodes) {
    const apply = node.apply.bind(node);
    node.apply = async (b) => {
      const r = await apply(b);
      return b.block.header.height === 2
        ? { ...r, reconfigurations: [{ fromHeight: 9, validators: reversed }] }
        : r;
    };
  }
  for (const d of c.drivers) d.start(new Uint8Array(32));
  for (let i = 0; i < 40 && c.nodes[0]!.applied.length < blocks; i++) {
    for (const d of c.drivers) d.enqueue({ type: 'propose', txs: [tx(txBase + i)], now: 1_000 });
    await settle(c.drivers);
  }
  return { ...c, reversed };
}

t.test(
  'validator-set changes: handed in before executed, and per block during sync (ADR 0015)',
  async (t) => {
    const { g, nodes, drivers, reversed } = await reconfiguringCluster(14, 100);
    t.ok(
      nodes.every((n) => n.applied.length >= 14),
      'commits continued across the boundary',
    );
    t.ok(
      drivers.every((d) => d.replica.epochIndex === 1),
      'every replica switched to the new set at the boundary',
    );
    t.ok(nodes[0]!.records.has('pbft/epochs'), 'the epoch history was persisted');
    for (const c of nodes[0]!.applied) {
      const h = c.block.header.height;
      const set = h <= 8 ? g.validators : reversed;
      t.doesNotThrow(
        () => verifyCommitCertificate(CHAIN, c.certificate, c.block.header, set, g.crypto),
        `certificate ${h} verifies against its epoch's set`,
      );
    }

    // A fresh node syncs all blocks in one batch: the change must be in force for blocks 9+ of it.
    const fresh = new FakeNode();
    const replica = Replica.create(g.config(3), g.deps(3));
    const check = fresh.apply.bind(fresh);
    const epochCheck = checkAgainstEpoch(replica, g);
    fresh.apply = async (c) => {
      epochCheck(c);
      const r = await check(c);
      return c.block.header.height === 2
        ? { ...r, reconfigurations: [{ fromHeight: 9, validators: reversed }] }
        : r;
    };
    const syncer = isolatedDriver(replica, fresh);
    const height = await syncer.syncBlocks(nodes[0]!.applied);
    t.equal(height, nodes[0]!.applied.length, 'every block synced, certificates checked against their epoch');
    t.equal(replica.epochs().length, 2, 'the synced replica learnt the change');
    await syncer.stop();
    await Promise.all(drivers.map((d) => d.stop()));
  },
);

t.test(
  'a timeout that fired while commit messages were waiting to be read is not stepped (issue 9)',
  async (t) => {
    // Replica 1 holds two transactions; the primary proposes only the first. Replica 1's request timer
    // fires while the messages that commit the first block have arrived but are not stepped yet: the
    // commit is progress, so the replica re-arms the timer, and the expiry must not start a view change
    // (on a loaded node this made backups abandon views that were making progress).
    const { nodes, drivers } = cluster(4);
    const armed: (() => void)[] = [];
    const backup = drivers[1]!;
    const manual = new ReplicaDriver({
      replica: backup.replica,
      records: nodes[1]!,
      outbox: { send() {}, broadcast() {} },
      commits: nodes[1]!,
      stateTransfer: { transfer: () => Promise.reject(new Error('unused')) },
      clock: () => 1_000,
      timers: {
        set: (cb) => {
          armed.push(cb);
          return armed.length;
        },
        clear: () => {},
      },
    });
    const held: { from: number; message: Uint8Array }[] = [];
    drivers[1] = { enqueue: (e) => (e.type === 'receive' ? held.push(e) > 0 : false) } as ReplicaDriver;
    for (const d of [drivers[0]!, drivers[2]!, drivers[3]!]) d.start(new Uint8Array(32));
    manual.start(new Uint8Array(32));
    manual.enqueue({ type: 'propose', txs: [tx(1), tx(2)], now: 1_000 });
    await manual.idle();
    t.equal(armed.length, 1, 'the backup armed its request timer for the pending transactions');
    drivers[0]!.enqueue({ type: 'propose', txs: [tx(1)], now: 1_000 });
    await settle([drivers[0]!, drivers[2]!, drivers[3]!]);
    t.ok(nodes[0]!.applied.length >= 1, 'the other three committed the block');
    t.equal(nodes[1]!.applied.length, 0, 'the backup has not seen it yet');

    // The worst order, as after a stall of the backup's event loop: the timer expires (Node's timers
    // phase) before the sockets holding the commit messages are read (its poll phase). The expiry is
    // queued one turn later (a 0 ms timer), so the messages read in between go ahead of it.
    armed[0]!();
    t.equal(armed.length, 2, 'the expiry deferred by one turn');
    for (const m of held) manual.enqueue({ type: 'receive', ...m });
    armed[1]!();
    await manual.idle();
    t.equal(nodes[1]!.applied.length, 1, 'the backup committed the block');
    t.equal(manual.replica.view, 0, 'no view change from the stale expiry');
    t.equal(manual.stats().staleTimeoutsDropped, 1, 'the stale expiry was dropped and counted');
    t.ok(armed.length >= 3, 'the timer was re-armed for the transaction still pending');
    armed.at(-1)!();
    armed.at(-1)!(); // its deferred turn
    await manual.idle();
    // A live expiry is stepped: the backup suspects the primary (ADR 0112: alone, it stays in view 0).
    t.equal(manual.replica.stats().suspicionsSent, 1, 'a live expiry is stepped: SUSPECT sent');
    t.equal(manual.replica.view, 0, 'one suspicion alone does not leave the view');
    await manual.stop();
    await Promise.all([drivers[0]!, drivers[2]!, drivers[3]!].map((d) => d.stop()));
  },
);

/**
 * A node whose commit sink also applies certified ranges (ADR 0115): at most `perRange` blocks per call,
 * ending a range after a block that decided a reconfiguration, with the hash-chained root computed
 * only at the range's end.
 */
class RangeNode extends FakeNode {
  readonly ranges: number[][] = [];
  readonly perRange: number;
  readonly reconfigureAt: { height: number; fromHeight: number; validators: Uint8Array[] } | undefined;
  readonly check: ((c: CommittedBlock) => void) | undefined;
  constructor(
    perRange: number,
    reconfigureAt?: { height: number; fromHeight: number; validators: Uint8Array[] },
    check?: (c: CommittedBlock) => void,
  ) {
    super();
    this.perRange = perRange;
    this.reconfigureAt = reconfigureAt;
    this.check = check;
  }
  async applyCertifiedRange(blocks: readonly CommittedBlock[]) {
    const applied: {
      height: number;
      reconfigurations?: { fromHeight: number; validators: Uint8Array[] }[];
    }[] = [];
    for (const c of blocks.slice(0, this.perRange)) {
      this.check?.(c);
      await this.apply(c);
      const r = this.reconfigureAt;
      const decided = r !== undefined && c.block.header.height === r.height;
      applied.push({
        height: c.block.header.height,
        ...(decided ? { reconfigurations: [{ fromHeight: r.fromHeight, validators: r.validators }] } : {}),
      });
      if (decided) break;
    }
    this.ranges.push(applied.map((a) => a.height));
    return { blocks: applied, height: this.applied.length, stateRoot: this.root };
  }
}

t.test('block sync through applyCertifiedRange: ranges, per-block onApplied, one transfer', async (t) => {
  const { g, nodes, drivers } = cluster(4);
  for (const d of drivers) d.start(new Uint8Array(32));
  for (let i = 0; i < 20 && nodes[0]!.applied.length < 8; i++) {
    for (const d of drivers) d.enqueue({ type: 'propose', txs: [tx(200 + i)], now: 1_000 });
    await settle(drivers);
  }
  const blocks = nodes[0]!.applied;
  t.ok(blocks.length >= 8, 'a chain to sync');

  const fresh = new RangeNode(3);
  const seen: { height: number; root: string | undefined }[] = [];
  const syncer = isolatedDriver(Replica.create(g.config(3), g.deps(3)), fresh, (c, root) => {
    seen.push({ height: c.block.header.height, root: root === undefined ? undefined : hex(root) });
  });
  // The first two are already applied: the ranges start after them.
  await fresh.apply(blocks[0]!);
  await fresh.apply(blocks[1]!);
  const height = await syncer.syncBlocks(blocks);
  t.equal(height, blocks.length, 'every block applied');
  t.same(fresh.root, nodes[0]!.root, 'same state root as the node that applied them one by one');
  t.same(
    fresh.ranges.flat(),
    blocks.slice(2).map((b) => b.block.header.height),
    'each block once, in order, after the applied ones',
  );
  t.ok(
    fresh.ranges.every((r) => r.length <= 3),
    'the sink decides how many blocks a range takes',
  );
  t.same(
    seen.map((s) => s.height),
    blocks.slice(2).map((b) => b.block.header.height),
    'onApplied once per block, in height order',
  );
  const ends = new Set(fresh.ranges.map((r) => r[r.length - 1]!));
  t.ok(
    seen.every((s) => (ends.has(s.height) ? s.root !== undefined : s.root === undefined)),
    'a state root only for the last block of each range',
  );
  t.equal(syncer.replica.lastCommitted, blocks.length, 'the replica was told where it stands');
  t.equal(syncer.stats().stateTransfers, 1, 'one state transfer for the whole job');
  await syncer.stop();
  await Promise.all(drivers.map((d) => d.stop()));
});

t.test('block sync through ranges: a validator-set change ends the range that decided it', async (t) => {
  const { g, nodes, drivers, reversed } = await reconfiguringCluster(12, 300);
  t.ok(nodes[0]!.applied.length >= 12, 'commits continued across the boundary');

  const replica = Replica.create(g.config(3), g.deps(3));
  // Every certificate is checked against the set the replica holds for its height when it is applied.
  const fresh = new RangeNode(
    64,
    { height: 2, fromHeight: 9, validators: reversed },
    checkAgainstEpoch(replica, g),
  );
  const syncer = isolatedDriver(replica, fresh);
  const height = await syncer.syncBlocks(nodes[0]!.applied);
  t.equal(height, nodes[0]!.applied.length, 'every block synced, certificates checked against their epoch');
  t.same(fresh.ranges[0], [1, 2], 'the first range ended at the block that decided the change');
  t.equal(replica.epochs().length, 2, 'the synced replica learnt the change before the blocks it governs');
  await syncer.stop();
  await Promise.all(drivers.map((d) => d.stop()));
});
