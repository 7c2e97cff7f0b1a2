// Block sync: how a node that was down, or a new node started from genesis, gets the blocks it missed.
// It asks peers for their status, fetches ranges of blocks WITH their commit certificates over the
// /vigil/sync protocol, and hands them to the driver, which verifies each certificate against the
// validator set before applying (a peer cannot feed us a block the validators did not certify).
// The same path serves the replica's state-transfer requests (PBFT §4.3: fetch up to a stable
// checkpoint proven by 2f+1 CHECKPOINT messages).
import type { CommittedBlock, StateTransferRequest } from '@vigil/consensus/pbft';
import { decodeBlock, decodeCommitCertificate, encodeCanonical } from '@vigil/consensus/wire';
import type { BlockRangeRequest, NodeStatus } from '@vigil/p2p';
import type { StateTransferHost } from '../driver/replica-driver.ts';
import { txRoot } from '../crypto/tx-root.ts';
import { readByteStringArrayDirect } from '../store/cbor-direct.ts';
import { rememberBlockEncoding, rememberTxRootChecked } from '../exec/block-bytes.ts';
import { MAX_EFFECTS_BYTES, rememberBlockEffects, rememberLaterBlocks } from '../exec/block-effects.ts';
import type { ChainStore } from '../store/chain-store.ts';

/**
 * Most blocks served per request and applied per call of the driver (p2p serves at most
 * syncMaxBlocks = 256): larger ranges make catch-up bound by block application, not by round trips
 * (issue 9; certified blocks skip per-transaction signature checks, ADR 0031).
 */
export const SYNC_BATCH = 128;
/**
 * Blocks per catch-up request. With effects records (ADR 0133) a block is ~80 KB to send, so a request
 * of SYNC_BATCH blocks was 8 MiB that one busy peer read, encoded and encrypted while the syncing node
 * waited (~0.45 s of a 1.4 s catch-up in the 2026-12-06 probes); smaller requests to several peers at
 * once arrive sooner, and ranges that have arrived are applied together, up to SYNC_BATCH.
 */
export const SYNC_RANGE = 32;
/** Requests outstanding at once, each to the next peer in turn. */
export const SYNC_IN_FLIGHT = 3;
/** A served range stops before its encoded entries exceed this (p2p's syncMaxFrameBytes is 16 MiB). */
export const SYNC_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** A synced entry larger than this is refused (a block is at most a few MiB, its effects as much again). */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024 + MAX_EFFECTS_BYTES;

export class SyncError extends Error {
  readonly code: 'BAD_SYNC_ENTRY' | 'NO_PEER_HAS_BLOCKS';
  constructor(code: SyncError['code'], message: string) {
    super(message);
    this.name = 'SyncError';
    this.code = code;
  }
}

/**
 * One served block: canonical CBOR [encodedBlock, encodedCertificate], or [encodedBlock,
 * encodedCertificate, effectsRecord] on a chain whose blocks store their effects (ADR 0133).
 */
export function encodeSyncEntry(
  blockBytes: Uint8Array,
  certBytes: Uint8Array,
  effects?: Uint8Array,
): Uint8Array {
  return encodeCanonical(effects === undefined ? [blockBytes, certBytes] : [blockBytes, certBytes, effects]);
}

export function decodeSyncEntry(bytes: Uint8Array): CommittedBlock {
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new SyncError('BAD_SYNC_ENTRY', `a sync entry of ${bytes.length} bytes`);
  }
  // Read directly (an entry is a few byte strings; the generic decoder walked the whole entry item by
  // item), and copied out: the entry may be a view into a whole response frame, which a kept block
  // must not pin.
  const v = readByteStringArrayDirect(bytes, 3)?.map((x) => x.slice());
  if (v === undefined || v.length < 2) {
    throw new SyncError(
      'BAD_SYNC_ENTRY',
      'a sync entry is canonical CBOR [block, certificate] or [block, certificate, effects]',
    );
  }
  try {
    // The txRoot checked with node:crypto's SHA-256: the pure-JS default was ~12 % of a catch-up's main
    // thread in the sync window's profile.
    const block = decodeBlock(v[0]!, { txRoot });
    // Stored as received: decodeBlock accepts only the canonical encoding (exec/block-bytes.ts).
    rememberBlockEncoding(block, v[0]!);
    rememberTxRootChecked(block);
    // Only a claim until the executor has checked it through a certified state root (ADR 0133).
    if (v.length === 3) rememberBlockEffects(block, v[2]!);
    return { block, certificate: decodeCommitCertificate(v[1]!) };
  } catch (e) {
    throw new SyncError('BAD_SYNC_ENTRY', `bad block or certificate: ${(e as Error).message}`);
  }
}

/** Serves a range of blocks from the store (the /vigil/sync provider). */
export async function serveBlockRange(store: ChainStore, req: BlockRangeRequest): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const head = store.requireHead().height;
  const last = Math.min(head, req.fromHeight + Math.min(req.count, SYNC_BATCH) - 1);
  let bytes = 0;
  for (let h = Math.max(1, req.fromHeight); h <= last; h++) {
    // The stored bytes, checked (a damaged record is refused, not served): they are the canonical
    // encoding, and re-encoding each block (which re-hashes its transactions in pure JS) was most of
    // what serving cost.
    const stored = await store.blocks.checkedBlock(h);
    if (stored?.certificateBytes === undefined) break;
    // The block's effects record where the chain keeps them (ADR 0133): the peer may then apply the
    // range without executing it. Absent for a block without transactions.
    let effects = store.blockEffects ? await store.blocks.effects(h) : undefined;
    // Never so large that one entry would not fit a response: the peer executes that block instead.
    if (effects !== undefined && stored.bytes.length + effects.length > SYNC_MAX_RESPONSE_BYTES) {
      effects = undefined;
    }
    const entry = encodeSyncEntry(stored.bytes, stored.certificateBytes, effects);
    // Always at least one block, however large (a block is at most MAX_BLOCK_BYTES).
    if (out.length > 0 && bytes + entry.length > SYNC_MAX_RESPONSE_BYTES) break;
    out.push(entry);
    bytes += entry.length;
  }
  return out;
}

export interface SyncPeers {
  /** Peer keys currently connected. */
  connected(): string[];
  requestStatus(peer: string): Promise<NodeStatus>;
  requestBlocks(peer: string, fromHeight: number, count: number): Promise<Uint8Array[]>;
}

export interface BlockSyncOptions {
  peers: SyncPeers;
  appliedHeight: () => number;
  /** Applies certified blocks in order (ReplicaDriver.syncBlocks); resolves with the applied height. */
  apply: (blocks: CommittedBlock[]) => Promise<number>;
  /**
   * The highest height a certified range of these blocks can be applied through from effects records:
   * the last root their headers cite (ADR 0133). Blocks after it are held for the next batch while
   * more are to be fetched. Absent: every fetched block is applied at once.
   */
  citedThrough?: (blocks: readonly CommittedBlock[]) => number | undefined;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/**
 * What block sync applied and for how long (vigil_sync_* in /metrics): the catch-up rate of a restarted
 * node is transactions / seconds, measured by the node itself from the start of each catch-up that
 * applied anything (peer statuses, fetches and application) to its end, without process start-up.
 */
export interface SyncStats {
  /** Catch-up runs that applied at least one block. */
  runs: number;
  blocks: number;
  transactions: number;
  /** Wall time of those runs. */
  seconds: number;
  /** Of which applying blocks (the driver and executor); the rest is peer statuses, waiting for
   *  ranges that were not fetched ahead, and decoding them. */
  applySeconds: number;
}

export class BlockSync implements StateTransferHost {
  readonly #o: BlockSyncOptions;
  #running: Promise<number> | undefined;
  readonly #stats: SyncStats = { runs: 0, blocks: 0, transactions: 0, seconds: 0, applySeconds: 0 };

  stats(): SyncStats {
    return { ...this.#stats };
  }

  constructor(options: BlockSyncOptions) {
    this.#o = options;
  }

  /** PBFT state transfer: fetch certified blocks up to the stable checkpoint. */
  async transfer(request: StateTransferRequest): Promise<void> {
    await this.catchUp(request.height);
  }

  /**
   * Fetches and applies blocks until `target` (or, without one, the highest height any connected peer
   * reports). One catch-up runs at a time; concurrent callers share it.
   */
  catchUp(target?: number): Promise<number> {
    if (this.#running) return this.#running;
    this.#running = this.#catchUp(target).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #catchUp(target: number | undefined): Promise<number> {
    const started = performance.now();
    const applied = { blocks: 0, transactions: 0, seconds: 0 };
    try {
      return await this.#fetchAndApply(target, applied);
    } finally {
      if (applied.blocks > 0) {
        this.#stats.runs++;
        this.#stats.blocks += applied.blocks;
        this.#stats.transactions += applied.transactions;
        this.#stats.seconds += (performance.now() - started) / 1000;
        this.#stats.applySeconds += applied.seconds;
      }
    }
  }

  async #fetchAndApply(
    target: number | undefined,
    applied: { blocks: number; transactions: number; seconds: number },
  ): Promise<number> {
    const peers = this.#o.peers.connected();
    if (peers.length === 0) return this.#o.appliedHeight();
    // Learn who is ahead. A lying peer can only waste our time: every block must carry a certificate.
    const statuses = await Promise.all(
      peers.map((p) =>
        this.#o.peers
          .requestStatus(p)
          .then((s) => ({ peer: p, height: s.height }))
          .catch(() => undefined),
      ),
    );
    const ahead = statuses.filter((s): s is { peer: string; height: number } => s !== undefined);
    const goal = target ?? Math.max(0, ...ahead.map((s) => s.height));
    let turn = 0;
    let failures = 0;
    // Requests in flight, in height order, each to the next peer in turn that reported the height; the
    // first is consumed when it arrives, and with it those after it that have arrived too.
    const inFlight: InFlightRange[] = [];
    let nextFrom = this.#o.appliedHeight() + 1;
    // Fetched blocks held back for the next batch (citedThrough): decoded and in order from the
    // applied height + 1.
    let held: CommittedBlock[] = [];
    const request = (from: number, count: number): InFlightRange | undefined => {
      const candidates = ahead.filter((s) => s.height >= from);
      if (candidates.length === 0) return undefined;
      const peer = candidates[turn++ % candidates.length]!.peer;
      const range: InFlightRange = { from, count, peer, arrived: false, result: Promise.resolve([]) };
      range.result = this.#o.peers
        .requestBlocks(peer, from, count)
        .catch((e: unknown) => toError(e))
        .finally(() => {
          range.arrived = true;
        });
      return range;
    };
    const refill = () => {
      while (inFlight.length < SYNC_IN_FLIGHT && nextFrom <= goal) {
        const r = request(nextFrom, Math.min(SYNC_RANGE, goal - nextFrom + 1));
        if (r === undefined) break;
        inFlight.push(r);
        nextFrom += r.count;
      }
    };
    /** After a failure: drop what was fetched ahead and fetch again from the applied height. */
    const restart = () => {
      held = [];
      inFlight.length = 0;
      nextFrom = this.#o.appliedHeight() + 1;
    };
    while (this.#o.appliedHeight() < goal) {
      const candidates = ahead.filter((s) => s.height > this.#o.appliedHeight());
      if (candidates.length === 0 || failures > candidates.length * 3) {
        throw new SyncError('NO_PEER_HAS_BLOCKS', `no peer served blocks above ${this.#o.appliedHeight()}`);
      }
      const from = this.#o.appliedHeight() + 1 + held.length;
      refill();
      let blocks: CommittedBlock[];
      const first = inFlight.shift();
      if (first === undefined) {
        // Everything up to the goal is fetched, or no peer reported a height beyond the held blocks:
        // they go now, cited or not.
        if (held.length === 0) {
          failures++;
          restart();
          continue;
        }
        blocks = held;
        held = [];
      } else {
        let fetched: CommittedBlock[];
        try {
          fetched = await this.#arrived(first, from);
        } catch (err) {
          failures++;
          if (first.from !== from) {
            restart();
            continue;
          }
          this.#o.log?.warn({ peer: first.peer, from, err: String(err) }, 'block sync from peer failed');
          // Not asked again in this catch-up while another peer is ahead: it is faulty, or lost.
          const i = ahead.findIndex((s) => s.peer === first.peer);
          if (i >= 0 && ahead.length > 1) ahead.splice(i, 1);
          // The range again, from another peer, ahead of the ranges in flight (which stay).
          const again = request(from, first.count);
          if (again !== undefined) inFlight.unshift(again);
          else restart();
          continue;
        }
        if (fetched.length < first.count) {
          // A short answer (the response's byte bound, or the peer's chain ends): the rest of the range
          // is asked for next, ahead of the ranges already in flight.
          const rest = request(from + fetched.length, first.count - fetched.length);
          if (rest !== undefined) inFlight.unshift(rest);
        } else {
          // Ranges of the same peer that arrived while this one was awaited or applied go with it, up to
          // SYNC_BATCH. Never another peer's: one range with a bad record makes the executor execute the
          // whole batch (ADR 0133), so a faulty peer's range must not take an honest one's along.
          while (
            inFlight[0]?.arrived === true &&
            inFlight[0].peer === first.peer &&
            fetched.length + inFlight[0].count <= SYNC_BATCH
          ) {
            const next = inFlight[0];
            const more = await this.#arrived(next, from + fetched.length).catch(() => undefined);
            // Not whole or not decodable: left for the next turn, which fails it properly.
            if (more === undefined || more.length < next.count) break;
            inFlight.shift();
            fetched = fetched.concat(more);
          }
        }
        // The next requests go out before this batch applies.
        refill();
        const end = from + fetched.length;
        blocks = held.concat(fetched);
        held = [];
        // ADR 0133: blocks after the last root these headers cite could only be executed now; with
        // more to fetch they wait for the next batch, whose headers cite them.
        const cited = end <= goal ? this.#o.citedThrough?.(blocks) : undefined;
        if (cited !== undefined) {
          const cut = blocks.findIndex((b) => b.block.header.height > cited);
          if (cut > 0) {
            held = blocks.slice(cut);
            blocks = blocks.slice(0, cut);
            // Their headers are the citations of the blocks applied now.
            rememberLaterBlocks(blocks[blocks.length - 1]!.block, held);
          }
        }
      }
      try {
        const before = this.#o.appliedHeight();
        const applyStarted = performance.now();
        try {
          await this.#o.apply(blocks);
        } finally {
          applied.seconds += (performance.now() - applyStarted) / 1000;
          // Counted even when a later block of the range failed: the ones before it are applied.
          const after = this.#o.appliedHeight();
          for (const b of blocks) {
            const h = b.block.header.height;
            if (h > before && h <= after) {
              applied.blocks++;
              applied.transactions += b.block.txs.length;
            }
          }
        }
        // Consecutive failures end a catch-up; progress starts the count again.
        if (this.#o.appliedHeight() <= before) failures++;
        else failures = 0;
        // Held blocks follow the last one given: if that one was not applied, fetch them again.
        if (this.#o.appliedHeight() !== blocks[blocks.length - 1]!.block.header.height) restart();
      } catch (err) {
        failures++;
        this.#o.log?.warn({ from, err: String(err) }, 'block sync: applying fetched blocks failed');
        restart();
      }
    }
    return this.#o.appliedHeight();
  }

  /** A range's blocks once they arrive, decoded, starting at `from`; throws on anything else. */
  async #arrived(range: InFlightRange, from: number): Promise<CommittedBlock[]> {
    const entries = await range.result;
    if (entries instanceof Error) throw entries;
    const fetched = entries.map(decodeSyncEntry);
    if (fetched.length === 0 || fetched[0]!.block.header.height !== from || range.from !== from) {
      throw new SyncError(
        'BAD_SYNC_ENTRY',
        `needed blocks from ${from}; asked for ${range.from}, got ${fetched.length} from ${fetched[0]?.block.header.height}`,
      );
    }
    return fetched;
  }
}

/** One block range request in flight. */
interface InFlightRange {
  from: number;
  count: number;
  peer: string;
  arrived: boolean;
  result: Promise<Uint8Array[] | Error>;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
