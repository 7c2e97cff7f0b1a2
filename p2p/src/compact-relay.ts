// The stateful side of compact PRE-PREPAREs (ADR 0129): what the network keeps to send them, rebuild
// them and answer for them. Written against a small host interface (the network supplies requests,
// delivery, penalties and the clock) so that nothing here touches libp2p.
//
//   sender    formFor(message): the compact form of an outgoing PRE-PREPARE (once per message, however
//             many peers it goes to); its transactions stay in a bounded cache of recent proposals
//             for txfetch.
//   receiver  receive(peer, bytes): decode and check; rebuild from the transaction cache (every
//             transaction this node gossiped or received by gossip, until a block used it: tx-cache.ts)
//             or, for a block rebuilt moments ago (a retransmission), from its transactions kept
//             aside; if some are missing, wait in a
//             bounded buffer while asking the sender for them by block hash and positions, then once
//             for the whole message; hand the rebuilt bytes to the core, which checks them as always.
//   server    serve(request): transactions of a recent proposal by position, or the whole message.
//
// Nothing here can hold consensus up: a PRE-PREPARE that cannot be completed within two request
// deadlines is dropped (counted), and the core's retransmission and request timer take over as for any
// lost message (TOCS 2002 §4.4-§4.5).
import { LRUCache } from 'lru-cache';
import {
  type CompactForm,
  type CompactLimits,
  type CompactPrePrepare,
  compactPrePrepare,
  decodeCompactPrePrepare,
  decodeTxFetchRequest,
  decodeTxFetchResponse,
  encodeTxFetchRequest,
  encodeTxFetchResponse,
  idKey,
  rebuildPrePrepare,
  TxFetchKind,
  type TxFetchRequest,
  TxFetchStatus,
} from './compact-codec.ts';
import { CompactError, P2PErrorCode } from './errors.ts';
import type { P2PLogger } from './logger.ts';
import { TxCache } from './tx-cache.ts';

export interface CompactOptions extends CompactLimits {
  /** Transactions kept for rebuilding (every one gossiped or received by gossip), by count and bytes. */
  txCache: { maxTxs: number; maxBytes: number };
  /** This node's recent proposals kept to answer txfetch, by count and bytes. */
  proposalCache: { maxBlocks: number; maxBytes: number };
  /** Incomplete PRE-PREPAREs waiting for their transactions, per peer. */
  maxPendingPerPeer: number;
  /** Deadline of each txfetch request (one for the missing transactions, one for the whole message). */
  fetchTimeoutMs: number;
}

/** Counters of the compact encoding, in net.metrics().compact. */
export interface CompactMetrics {
  /**
   * Compact PRE-PREPAREs written to peers, and PRE-PREPAREs that had a compact form written whole (to
   * peers whose stream is of the 1.0.0 version).
   */
  sent: number;
  sentFull: number;
  /** Compact PRE-PREPAREs received and accepted by the decoder. */
  received: number;
  /** Of those, rebuilt from this node's transactions alone. */
  rebuilt: number;
  /** txfetch requests for missing transactions, the transactions they brought, and rebuilds after them. */
  fetches: number;
  fetchedTxs: number;
  rebuiltAfterFetch: number;
  /** Requests for the whole message after a failed fetch, and how many brought it. */
  fullFetches: number;
  fullFetched: number;
  /** Incomplete PRE-PREPAREs given up (both requests failed); the core recovers as from a lost message. */
  abandoned: number;
  /** A compact PRE-PREPARE already waiting for its transactions, received again (a retransmission). */
  duplicates: number;
  /** Incomplete PRE-PREPAREs refused because the peer's buffer was full. */
  pendingOverflow: number;
  /** txfetch requests answered with transactions or the message, and with "unknown block". */
  served: number;
  servedUnknown: number;
  /** Hostile or unusable input, from either direction, by error code. */
  refused: Record<string, number>;
}

export function emptyCompactMetrics(): CompactMetrics {
  return {
    sent: 0,
    sentFull: 0,
    received: 0,
    rebuilt: 0,
    fetches: 0,
    fetchedTxs: 0,
    rebuiltAfterFetch: 0,
    fullFetches: 0,
    fullFetched: 0,
    abandoned: 0,
    duplicates: 0,
    pendingOverflow: 0,
    served: 0,
    servedUnknown: 0,
    refused: {},
  };
}

export interface CompactHost {
  /** One txfetch round trip to `peer` within `timeoutMs`: the response message, or a rejection. */
  request(peer: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Hand a full PRE-PREPARE to the consensus handler as if `peer` had sent it. */
  deliver(peer: string, message: Uint8Array): void;
  /** Count hostile input against `peer` (peer-score.ts). */
  offence(peer: string, err: CompactError): void;
  log: P2PLogger;
}

interface Pending {
  compact: CompactPrePrepare;
  /** Transactions found so far, by position (undefined: missing). */
  txs: (Uint8Array | undefined)[];
}

/** Blocks whose transactions a receiver keeps after rebuilding them: a primary retransmits only the
 *  PRE-PREPAREs of its uncommitted heights, a window's worth at most. */
const RECENT_BLOCKS = 16;

export class CompactRelay {
  readonly #o: CompactOptions;
  readonly #host: CompactHost;
  readonly #metrics: CompactMetrics;
  /** Leaf key -> transaction bytes, until a block uses the transaction. */
  readonly #txs: TxCache;
  /** Block hash key -> the transactions of a block rebuilt here recently (for its retransmissions). */
  readonly #recent = new LRUCache<string, Uint8Array[]>({ max: RECENT_BLOCKS });
  /** Block hash key -> this node's compact form of its proposal. */
  readonly #proposals: LRUCache<string, CompactForm>;
  /** The last message asked for (a broadcast asks once per peer for the same bytes). */
  #lastMessage: Uint8Array | undefined;
  #lastForm: CompactForm | undefined;
  /** Peer key -> block hash key -> incomplete PRE-PREPARE. */
  readonly #pending = new Map<string, Map<string, Pending>>();
  #stopped = false;

  constructor(o: CompactOptions, host: CompactHost, metrics: CompactMetrics) {
    this.#o = o;
    this.#host = host;
    this.#metrics = metrics;
    this.#txs = new TxCache(o.txCache.maxTxs, o.txCache.maxBytes);
    this.#proposals = new LRUCache({
      max: o.proposalCache.maxBlocks,
      maxSize: o.proposalCache.maxBytes,
      sizeCalculation: (f) => Math.max(1, f.message.byteLength),
    });
  }

  /** Incomplete PRE-PREPAREs held now, all peers. */
  get pendingCount(): number {
    let n = 0;
    for (const m of this.#pending.values()) n += m.size;
    return n;
  }

  stop(): void {
    this.#stopped = true;
    this.#pending.clear();
  }

  // ---- transactions this node has --------------------------------------------------------------------

  /** A transaction gossiped by or to this node, under its leaf key (compact-codec.ts leafKey). */
  rememberTx(key: string, tx: Uint8Array): void {
    this.#txs.add(key, tx);
  }

  /** Transactions held for rebuilding now (metrics, tests). */
  get cachedTxs(): number {
    return this.#txs.size;
  }

  /** A block's transactions are used: out of the cache, kept aside by block for a retransmission. */
  #used(hashKey: string, ids: readonly Uint8Array[], txs: Uint8Array[]): void {
    for (const id of ids) this.#txs.delete(idKey(id));
    this.#recent.set(hashKey, txs);
  }

  // ---- sender ----------------------------------------------------------------------------------------

  /**
   * The compact form of an outgoing consensus message, or undefined when it is not a PRE-PREPARE with
   * transactions (it goes out as it is). Its transactions stay available to txfetch.
   */
  formFor(message: Uint8Array): CompactForm | undefined {
    if (message === this.#lastMessage) return this.#lastForm;
    const form = compactPrePrepare(message);
    this.#lastMessage = message;
    this.#lastForm = form;
    if (form !== undefined) {
      this.#proposals.set(idKey(form.blockHash), form);
      // Its own proposal's transactions are answered from the proposal cache from now on.
      for (const id of form.ids) this.#txs.delete(idKey(id));
    }
    return form;
  }

  // ---- server ----------------------------------------------------------------------------------------

  /**
   * The response to a txfetch request from `peer`. Hostile requests (malformed, duplicate, unsorted or
   * out-of-range positions) are counted against the peer and answered "bad request".
   */
  serve(peer: string, body: Uint8Array): Uint8Array {
    let req: TxFetchRequest;
    try {
      req = decodeTxFetchRequest(body, this.#o);
      const form = this.#proposals.get(idKey(req.blockHash));
      if (form === undefined) {
        this.#metrics.servedUnknown++;
        return encodeTxFetchResponse({ status: TxFetchStatus.unknownBlock });
      }
      if (req.kind === TxFetchKind.message) {
        this.#metrics.served++;
        return encodeTxFetchResponse({ status: TxFetchStatus.ok, message: form.message });
      }
      const last = req.positions[req.positions.length - 1]!;
      if (last >= form.txs.length)
        throw new CompactError(
          P2PErrorCode.txFetchBadPositions,
          `position ${last} beyond the block's ${form.txs.length} transactions`,
        );
      this.#metrics.served++;
      return encodeTxFetchResponse({ status: TxFetchStatus.ok, txs: req.positions.map((i) => form.txs[i]!) });
    } catch (err) {
      if (!(err instanceof CompactError)) throw err;
      this.refuse(peer, err);
      return encodeTxFetchResponse({ status: TxFetchStatus.badRequest });
    }
  }

  // ---- receiver --------------------------------------------------------------------------------------

  /** A compact PRE-PREPARE from `peer` (with its kind byte). Never throws for hostile input. */
  receive(peer: string, bytes: Uint8Array): void {
    let c: CompactPrePrepare;
    try {
      c = decodeCompactPrePrepare(bytes, this.#o);
    } catch (err) {
      if (!(err instanceof CompactError)) throw err;
      this.refuse(peer, err);
      return;
    }
    this.#metrics.received++;
    const hashKey = idKey(c.blockHash);
    let byPeer = this.#pending.get(peer);
    if (byPeer?.has(hashKey)) {
      this.#metrics.duplicates++;
      return;
    }
    // A retransmission of a block rebuilt here: the same hash, so the same header, txRoot and ids.
    const again = this.#recent.get(hashKey);
    if (again !== undefined) {
      this.#metrics.rebuilt++;
      this.#host.deliver(peer, rebuildPrePrepare(c, again));
      return;
    }
    const txs: (Uint8Array | undefined)[] = new Array(c.ids.length);
    const missing: number[] = [];
    for (let i = 0; i < c.ids.length; i++) {
      const tx = this.#txs.get(idKey(c.ids[i]!));
      txs[i] = tx;
      if (tx === undefined) missing.push(i);
    }
    if (missing.length === 0) {
      this.#metrics.rebuilt++;
      this.#used(hashKey, c.ids, txs as Uint8Array[]);
      this.#host.deliver(peer, rebuildPrePrepare(c, txs as Uint8Array[]));
      return;
    }
    if (byPeer === undefined) {
      byPeer = new Map();
      this.#pending.set(peer, byPeer);
    }
    // A correct primary has at most a window of proposals in flight; beyond the bound this one is
    // treated as lost (the primary retransmits while it is stalled).
    if (byPeer.size >= this.#o.maxPendingPerPeer) {
      this.#metrics.pendingOverflow++;
      return;
    }
    const pending: Pending = { compact: c, txs };
    byPeer.set(hashKey, pending);
    this.#complete(peer, hashKey, pending, missing).finally(() => {
      const m = this.#pending.get(peer);
      if (m?.get(hashKey) === pending) {
        m.delete(hashKey);
        if (m.size === 0) this.#pending.delete(peer);
      }
    });
  }

  async #complete(peer: string, hashKey: string, p: Pending, missing: number[]): Promise<void> {
    const c = p.compact;
    const req: TxFetchRequest = { kind: TxFetchKind.txs, blockHash: c.blockHash, positions: missing };
    this.#metrics.fetches++;
    try {
      const got = await this.#fetch(peer, req, c.ids);
      if (this.#stopped) return;
      const txs = got as Uint8Array[];
      for (let i = 0; i < missing.length; i++) p.txs[missing[i]!] = txs[i]!;
      this.#metrics.fetchedTxs += txs.length;
      this.#metrics.rebuiltAfterFetch++;
      this.#used(hashKey, c.ids, p.txs as Uint8Array[]);
      this.#host.deliver(peer, rebuildPrePrepare(c, p.txs as Uint8Array[]));
      return;
    } catch (err) {
      this.#failed(peer, hashKey, 'transactions', err);
    }
    if (this.#stopped) return;
    // Fall back to the whole message once: the transactions' request may have timed out, or the peer
    // answered it wrongly; either way the block is recoverable only from this peer, within one more
    // deadline, after which the core's own recovery is the only one.
    this.#metrics.fullFetches++;
    try {
      const message = await this.#fetch(peer, { kind: TxFetchKind.message, blockHash: c.blockHash }, c.ids);
      if (this.#stopped) return;
      this.#metrics.fullFetched++;
      this.#host.deliver(peer, message as Uint8Array);
    } catch (err) {
      this.#failed(peer, hashKey, 'message', err);
      this.#metrics.abandoned++;
    }
  }

  async #fetch(
    peer: string,
    req: TxFetchRequest,
    ids: readonly Uint8Array[],
  ): Promise<Uint8Array[] | Uint8Array> {
    const body = await this.#host.request(peer, encodeTxFetchRequest(req), this.#o.fetchTimeoutMs);
    return decodeTxFetchResponse(body, req, ids, Number.MAX_SAFE_INTEGER);
  }

  #failed(peer: string, hashKey: string, what: string, err: unknown): void {
    if (err instanceof CompactError) this.refuse(peer, err);
    this.#host.log.info('compact-fetch-failed', {
      peer,
      block: hashKey,
      what,
      code: (err as { code?: string }).code,
      error: String(err),
    });
  }

  /** Counts hostile or unusable input by code, and (but for an evicted block) against `peer`. */
  refuse(peer: string, err: CompactError): void {
    const r = this.#metrics.refused;
    r[err.code] = (r[err.code] ?? 0) + 1;
    // An evicted block is no one's fault: a slow backup asked after the sender moved on.
    if (err.code !== P2PErrorCode.txFetchUnknownBlock) this.#host.offence(peer, err);
  }
}
