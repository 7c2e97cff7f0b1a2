import { makeTestBlock, tx } from '@vigil/consensus/pbft/testkit.ts';
import type { CommittedBlock } from '@vigil/consensus/pbft';
import { encodeBlock, encodeCanonical, encodeCommitCertificate } from '@vigil/consensus/wire';
import fc from 'fast-check';
import t from 'tap';
import { laterBlocksOf, syncedEffectsOf } from '../exec/block-effects.ts';
import {
  BlockSync,
  decodeSyncEntry,
  encodeSyncEntry,
  SYNC_BATCH,
  SYNC_IN_FLIGHT,
  SYNC_MAX_RESPONSE_BYTES,
  SYNC_RANGE,
  SyncError,
  serveBlockRange,
} from './block-sync.ts';

/** Sync entries of `count` chained test blocks of one transaction each, certified by `votes`. */
function chainEntries(
  count: number,
  votes: { validator: number; signature: Uint8Array }[] = [],
): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let parent: { hash: Uint8Array; timestamp: number } | undefined;
  for (let h = 1; h <= count; h++) {
    const b = makeTestBlock(4, 0, h, parent, [tx(h)]);
    parent = { hash: b.hash, timestamp: b.block.header.timestamp };
    const cert = { height: h, view: 0, blockHash: b.hash, votes };
    entries.push(encodeSyncEntry(encodeBlock(b.block), encodeCommitCertificate(cert)));
  }
  return entries;
}

/** A BlockSync over one peer that serves `entries` and an apply that counts blocks in order. */
function countingSync(
  entries: Uint8Array[],
  citedThrough: (blocks: readonly CommittedBlock[]) => number | undefined,
  onBatch: (blocks: readonly CommittedBlock[], applied: number) => void = () => {},
): { sync: BlockSync; applied: () => number } {
  let applied = 0;
  const sync = new BlockSync({
    peers: {
      connected: () => ['a'],
      requestStatus: async () => ({
        height: entries.length,
        view: 0,
        checkpoint: { height: 0, digest: new Uint8Array(32) },
      }),
      requestBlocks: async (_p, from, count) => entries.slice(from - 1, from - 1 + count),
    },
    appliedHeight: () => applied,
    apply: async (blocks) => {
      for (const b of blocks) {
        if (b.block.header.height !== applied + 1) throw new Error('out of order');
        applied++;
      }
      onBatch(blocks, applied);
      return applied;
    },
    citedThrough,
  });
  return { sync, applied: () => applied };
}

t.test('decodeSyncEntry turns any hostile bytes into SyncError, never anything else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      try {
        decodeSyncEntry(bytes);
        return false; // random bytes are never a certified block
      } catch (e) {
        return e instanceof SyncError && e.code === 'BAD_SYNC_ENTRY';
      }
    }),
    { numRuns: 2_000 },
  );
  for (const v of [
    [],
    [new Uint8Array(1)],
    [1, 2],
    [new Uint8Array(3), new Uint8Array(4)],
    [new Uint8Array(3), new Uint8Array(4), 5],
    [new Uint8Array(3), new Uint8Array(4), new Uint8Array(5), new Uint8Array(6)],
  ]) {
    t.throws(() => decodeSyncEntry(encodeCanonical(v as never)), { code: 'BAD_SYNC_ENTRY' });
  }
  t.end();
});

t.test('an entry read as a view into a larger response decodes as its copy does', (t) => {
  // requestBlocks hands entries over as views into the response frame (p2p messageViews).
  const [entry] = chainEntries(1, [{ validator: 0, signature: new Uint8Array(64).fill(7) }]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (before, after) => {
      const frame = new Uint8Array(before.length + entry!.length + after.length);
      frame.set(before);
      frame.set(entry!, before.length);
      frame.set(after, before.length + entry!.length);
      const view = frame.subarray(before.length, before.length + entry!.length);
      const fromView = decodeSyncEntry(view);
      const fromCopy = decodeSyncEntry(entry!.slice());
      // What it keeps is copied out: the frame may be reused or freed.
      frame.fill(0xee);
      return (
        JSON.stringify(fromView, (_k, x) => (x instanceof Uint8Array ? [...x] : x)) ===
        JSON.stringify(fromCopy, (_k, x) => (x instanceof Uint8Array ? [...x] : x))
      );
    }),
    { numRuns: 200 },
  );
  t.end();
});

// The successful path (a restarted validator catching up from real peers) is exercised end to end in
// node/src/testing/process-network.test.ts; here, peers that only serve garbage.
t.test('catchUp gives up with a typed error when no peer serves decodable blocks', async (t) => {
  let applied = 0;
  const requests: string[] = [];
  const sync = new BlockSync({
    peers: {
      connected: () => ['empty', 'liar'],
      requestStatus: async (p) => ({
        height: p === 'liar' ? 1_000 : 70,
        view: 0,
        checkpoint: { height: 0, digest: new Uint8Array(32) },
      }),
      requestBlocks: async (p, from, count) => {
        requests.push(`${p}:${from}+${count}`);
        return p === 'liar' ? [new Uint8Array([1, 2, 3])] : [new Uint8Array(0)];
      },
    },
    appliedHeight: () => applied,
    apply: async (blocks) => {
      applied += blocks.length;
      return applied;
    },
  });
  await t.rejects(
    sync.catchUp(),
    { code: 'NO_PEER_HAS_BLOCKS' },
    'nothing decodes: it gives up instead of spinning',
  );
  t.ok(requests.length > 0 && requests.length <= 7, `bounded attempts (${requests.length})`);
  t.equal(applied, 0, 'nothing undecodable was applied');
  t.same(
    sync.stats(),
    { runs: 0, blocks: 0, transactions: 0, seconds: 0, applySeconds: 0 },
    'no catch-up counted',
  );
});

/**
 * Peers serving `entries` with a turn of the event loop per answer (at most `cap` blocks per answer),
 * recording each request and how many were in flight when it was made.
 */
function servingPeers(entries: Uint8Array[], names: string[], cap = Number.POSITIVE_INFINITY) {
  const requests: { peer: string; from: number; count: number; inFlight: number; applied: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const state = { applied: 0 };
  const peers = {
    connected: () => names,
    requestStatus: async () => ({
      height: entries.length,
      view: 0,
      checkpoint: { height: 0, digest: new Uint8Array(32) },
    }),
    requestBlocks: async (peer: string, from: number, count: number) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      requests.push({ peer, from, count, inFlight, applied: state.applied });
      await new Promise<void>((r) => setImmediate(r));
      inFlight--;
      return entries.slice(from - 1, from - 1 + Math.min(count, cap));
    },
  };
  const batches: number[] = [];
  /** The driver's part: applies in height order (throws otherwise), a turn of the event loop each. */
  const apply = async (blocks: readonly CommittedBlock[]) => {
    for (const b of blocks) {
      if (b.block.header.height !== state.applied + 1) throw new Error('out of order');
      state.applied++;
    }
    batches.push(blocks.length);
    await new Promise<void>((r) => setImmediate(r));
    return state.applied;
  };
  const warnings: object[] = [];
  const log = { info: () => {}, warn: (o: object) => warnings.push(o) };
  const sync = () => new BlockSync({ peers, appliedHeight: () => state.applied, apply, log });
  return { peers, requests, maxInFlight: () => maxInFlight, state, batches, sync, warnings };
}

t.test('catchUp keeps ranges in flight to peers in turn and applies them in order', async (t) => {
  // 300 chained blocks with (unchecked here) certificates: the driver verifies them, not BlockSync.
  const entries = chainEntries(300, [{ validator: 0, signature: new Uint8Array(64) }]);
  const serving = servingPeers(entries, ['a', 'b', 'c']);
  const sync = serving.sync();
  t.equal(await sync.catchUp(), 300);
  const { requests, batches } = serving;
  t.same(
    requests.map((r) => [r.from, r.count]),
    Array.from({ length: Math.ceil(300 / SYNC_RANGE) }, (_, i) => [
      1 + i * SYNC_RANGE,
      Math.min(SYNC_RANGE, 300 - i * SYNC_RANGE),
    ]),
    'each height asked for once, in ranges of SYNC_RANGE',
  );
  t.equal(serving.maxInFlight(), SYNC_IN_FLIGHT, `up to ${SYNC_IN_FLIGHT} ranges in flight at once`);
  t.same(
    requests.slice(0, 3).map((r) => r.peer),
    ['a', 'b', 'c'],
    'to the peers in turn',
  );
  t.equal(requests[SYNC_IN_FLIGHT]!.applied, 0, 'more ranges are asked for before the first applies');
  t.ok(
    batches.every((n) => n <= SYNC_BATCH),
    `ranges that arrived together apply together, at most SYNC_BATCH (${batches.join(', ')})`,
  );
  const stats = sync.stats();
  t.match(stats, { runs: 1, blocks: 300, transactions: 300 }, 'it counted what it applied');
  t.ok(stats.seconds > 0, 'and how long the run took');
  t.ok(stats.applySeconds > 0 && stats.applySeconds <= stats.seconds, 'of which applying');
  t.equal(await sync.catchUp(), 300);
  t.equal(sync.stats().runs, 1, 'a run that applied nothing is not counted');
});

t.test("ranges that arrived together apply together, never with another peer's", async (t) => {
  const entries = chainEntries(200);
  const one = servingPeers(entries, ['a']);
  t.equal(await one.sync().catchUp(), 200);
  t.ok(
    one.batches.some((n) => n > SYNC_RANGE),
    `one peer: arrived ranges merged (${one.batches.join(', ')})`,
  );
  // Two peers in turn: each batch is one peer's range, so each holds at most SYNC_RANGE blocks.
  const two = servingPeers(entries, ['a', 'b']);
  t.equal(await two.sync().catchUp(), 200);
  t.ok(
    two.batches.every((n) => n <= SYNC_RANGE),
    `two peers: no batch mixes them (${two.batches.join(', ')})`,
  );
});

t.test('short answers: the rest of a range is asked for before the ranges after it', async (t) => {
  const entries = chainEntries(100);
  const serving = servingPeers(entries, ['a', 'b'], 10);
  t.equal(await serving.sync().catchUp(), 100, 'everything applied, in order');
  const asked = new Map<number, number>();
  for (const r of serving.requests) asked.set(r.from, (asked.get(r.from) ?? 0) + 1);
  t.ok(
    [...asked.values()].every((n) => n === 1),
    'no range asked for twice',
  );
  t.ok(
    serving.requests.some((r) => r.from === 11 && r.count === SYNC_RANGE - 10),
    'the rest of the first range was asked for',
  );
});

t.test('a peer that answers with garbage is passed over; the others finish', async (t) => {
  const entries = chainEntries(120);
  const serving = servingPeers(entries, ['good', 'bad']);
  const honest = serving.peers.requestBlocks;
  let badAskedAfterFailure = 0;
  serving.peers.requestBlocks = async (peer, from, count) => {
    if (peer !== 'bad') return honest(peer, from, count);
    if (serving.warnings.length > 0) badAskedAfterFailure++;
    return [new Uint8Array([1, 2, 3])];
  };
  t.equal(await serving.sync().catchUp(), 120, 'everything applied from the good peer');
  t.ok(serving.warnings.length >= 1, 'the garbage was noticed');
  t.equal(badAskedAfterFailure, 0, 'the peer that served garbage was not asked again');
});

/**
 * The part of a ChainStore that serveBlockRange reads, over test blocks with empty certificates, and
 * with effects records (ADR 0133) when `records` is given.
 */
function servingStore(
  blocks: Map<number, ReturnType<typeof makeTestBlock>>,
  records?: Map<number, Uint8Array>,
): Parameters<typeof serveBlockRange>[0] {
  return {
    blockEffects: records !== undefined,
    requireHead: () => ({ height: Math.max(...blocks.keys()) }),
    blocks: {
      effects: async (h: number) => records?.get(h),
      checkedBlock: async (h: number) => {
        const b = blocks.get(h);
        if (b === undefined) return undefined;
        const certificate = { height: h, view: 0, blockHash: b.hash, votes: [] };
        return {
          block: b.block,
          bytes: encodeBlock(b.block),
          certificate,
          certificateBytes: encodeCommitCertificate(certificate),
        };
      },
    },
  } as unknown as Parameters<typeof serveBlockRange>[0];
}

t.test('a served range stops at the response byte bound but always holds one block', async (t) => {
  const big = Array.from({ length: 40 }, (_, i) => new Uint8Array(60_000).fill(i));
  const heights = 3;
  const blocks = new Map<number, ReturnType<typeof makeTestBlock>>();
  let parent: { hash: Uint8Array; timestamp: number } | undefined;
  for (let h = 1; h <= heights; h++) {
    const b = makeTestBlock(4, 0, h, parent, big); // ~2.4 MB each
    parent = { hash: b.hash, timestamp: b.block.header.timestamp };
    blocks.set(h, b);
  }
  const store = servingStore(blocks);
  const served = await serveBlockRange(store, { fromHeight: 1, count: 100 });
  const total = served.reduce((n, e) => n + e.length, 0);
  t.ok(served.length >= 1 && total <= SYNC_MAX_RESPONSE_BYTES, `${served.length} blocks, ${total} bytes`);
  t.equal(served.length, 3, 'three 2.4 MB blocks fit in 8 MiB');
  const one = await serveBlockRange(store, { fromHeight: 3, count: 100 });
  t.equal(one.length, 1);
});

t.test(
  'effects records travel with their blocks (ADR 0133), unless one would not fit a response',
  async (t) => {
    const small = makeTestBlock(4, 0, 1, undefined, [tx(1)]);
    const large = makeTestBlock(4, 0, 2, { hash: small.hash, timestamp: small.block.header.timestamp }, [
      tx(2),
    ]);
    const blocks = new Map([
      [1, small],
      [2, large],
    ]);
    const records = new Map([
      [1, Uint8Array.of(0x84, 0x80, 0x80, 0x80, 0x80)],
      [2, new Uint8Array(SYNC_MAX_RESPONSE_BYTES)],
    ]);
    const store = servingStore(blocks, records);
    const served = await serveBlockRange(store, { fromHeight: 1, count: 2 });
    t.equal(served.length, 2);
    const [first, second] = served.map(decodeSyncEntry);
    t.same(syncedEffectsOf(first!.block), records.get(1), 'the record arrives with its block');
    t.equal(syncedEffectsOf(second!.block), undefined, 'too large to send: the peer executes that block');
    const plain = decodeSyncEntry(
      encodeSyncEntry(
        encodeBlock(small.block),
        encodeCommitCertificate({ height: 1, view: 0, blockHash: small.hash, votes: [] }),
      ),
    );
    t.equal(syncedEffectsOf(plain.block), undefined, 'an entry of two elements carries none');
  },
);

t.test(
  'blocks no header of their batch cites wait for the next batch, which carries their citations',
  async (t) => {
    const batches: { from: number; to: number; later: number[] }[] = [];
    const { sync } = countingSync(
      chainEntries(200),
      // As if each batch's newest three blocks were not yet cited by any header in it.
      (blocks) => blocks[blocks.length - 1]!.block.header.height - 3,
      (blocks, applied) =>
        batches.push({
          from: blocks[0]!.block.header.height,
          to: applied,
          later: laterBlocksOf(blocks[blocks.length - 1]!.block).map((b) => b.block.header.height),
        }),
    );
    t.equal(await sync.catchUp(), 200, 'everything applied, in order');
    const first = batches[0]!.to + 3;
    t.same(
      batches[0],
      { from: 1, to: first - 3, later: [first - 2, first - 1, first] },
      'the first batch holds back its last three',
    );
    t.same(batches[1]!.from, first - 2, 'and the next batch starts with them');
    t.same(batches[batches.length - 1]!.to, 200, 'at the goal nothing is held');
    t.same(batches[batches.length - 1]!.later, [], 'with nothing after it to cite');
  },
);

t.test('held blocks are applied when no peer has more, even below a higher target', async (t) => {
  const { sync, applied } = countingSync(
    chainEntries(100),
    (blocks) => blocks[blocks.length - 1]!.block.header.height - 3,
  );
  // A state transfer to a height no peer has reached: everything the peers have is applied, held
  // blocks included, and the catch-up ends with a typed error instead of waiting for more.
  await t.rejects(sync.catchUp(150), { code: 'NO_PEER_HAS_BLOCKS' });
  t.equal(applied(), 100, 'every block the peer had, the held ones too');
});
