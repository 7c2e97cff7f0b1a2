// The mempool: admission of hostile transaction bytes, cheapest checks first, so that garbage costs
// the node a length comparison and only well-formed, timely, in-order transactions cost a signature
// verification; bounded in count, bytes and per account; and the source of proposal batches that never
// break a sender's nonce order.
import { decodeTransaction, MAX_TX_BYTES, type Transaction, WireError } from '@vigil/consensus/wire';
import type { VerifiedTxCache } from '../exec/executor.ts';
import { signingBytesOf } from '../exec/tx-envelope.ts';
import { nodeSha256 } from '../state-tree/hasher.ts';
import type { BatchVerifier, SignatureCheck } from '../verify-pool/types.ts';

export const MempoolRejection = {
  TX_TOO_LARGE: 'TX_TOO_LARGE',
  MALFORMED: 'MALFORMED',
  WRONG_CHAIN: 'WRONG_CHAIN',
  TIMESTAMP_OUT_OF_WINDOW: 'TIMESTAMP_OUT_OF_WINDOW',
  /** Already pending, or already committed. */
  DUPLICATE_TX: 'DUPLICATE_TX',
  /** nonce <= the sender's committed nonce: can never execute. */
  NONCE_TOO_LOW: 'NONCE_TOO_LOW',
  /** Another pending transaction of the sender already holds this nonce (no replacement). */
  NONCE_TAKEN: 'NONCE_TAKEN',
  /** The sender has too many pending transactions, or this nonce is too far ahead. */
  ACCOUNT_LIMIT: 'ACCOUNT_LIMIT',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** The pool is at its transaction-count or byte bound. */
  MEMPOOL_FULL: 'MEMPOOL_FULL',
} as const;
export type MempoolRejectionCode = (typeof MempoolRejection)[keyof typeof MempoolRejection];

export class MempoolRejected extends Error {
  readonly code: MempoolRejectionCode;
  constructor(code: MempoolRejectionCode, message: string) {
    // A rejection answers a client or a peer; it is not a fault of this program, so no stack trace is
    // captured (V8 walks the stack for every Error: under load the gossip copies of transactions
    // already pending or committed alone made this ~1 % of a validator's CPU, issue 9 profile).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(`${code}: ${message}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'MempoolRejected';
    this.code = code;
  }
}

export interface MempoolDeps {
  chainId: string;
  /** The local clock, ms since the epoch. */
  now: () => number;
  /** The sender's last consumed nonce in committed state (0 if none). */
  committedNonce: (sender: Uint8Array) => Promise<number>;
  /** Whether a transaction with this id consumed its nonce in a committed block. */
  isCommitted: (txId: Uint8Array) => Promise<boolean>;
  verifier: BatchVerifier;
  /**
   * Signatures this node already verified elsewhere (a backup's check of a proposal that overtook the
   * gossip copy of its transactions): a hit skips the verification (node/src/crypto/verified-transactions.ts).
   */
  verified?: VerifiedTxCache;
}

export interface MempoolLimits {
  maxTxBytes: number;
  maxTxs: number;
  maxBytes: number;
  maxPerAccount: number;
  /** A transaction's timestamp may be at most this much older than the local clock... */
  maxAgeMs: number;
  /** ...and at most this much ahead of it (clock skew between device and node). */
  maxFutureMs: number;
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = {
  maxTxBytes: MAX_TX_BYTES,
  maxTxs: 50_000,
  maxBytes: 64 * 1024 * 1024,
  maxPerAccount: 256,
  maxAgeMs: 10 * 60_000,
  maxFutureMs: 30_000,
};

/** How often at most onBlockCommitted looks for transactions that aged out of the timestamp window. */
const AGE_SWEEP_INTERVAL_MS = 1_000;

interface Entry {
  idHex: string;
  txId: Uint8Array;
  bytes: Uint8Array;
  nonce: number;
  timestamp: number;
  signature: Uint8Array;
  senderHex: string;
  /** Arrival order. */
  seq: number;
  /** When it entered the pool (local clock, read at insertion: non-decreasing in arrival order). */
  admittedAt: number;
  /** When it was admitted or last handed out for re-offering (local clock). */
  offeredAt: number;
  /** How many times it was handed out for re-offering (the backoff's exponent). */
  reoffers: number;
}

/** The re-offer interval doubles this many times at most (ageMs, 2x, 4x, then 8x: takeStale). */
const MAX_REOFFER_DOUBLINGS = 3;

interface Account {
  sender: Uint8Array;
  /** Committed nonce when last looked up. */
  base: number;
  byNonce: Map<number, Entry>;
}

/**
 * The sender's first nonce after its committed one that is not pending here: the nonce its later
 * pending transactions wait for. Everything between the committed nonce and this one is proposable in
 * order; everything above it waits behind the gap.
 */
function firstMissingNonce(byNonce: ReadonlyMap<number, Entry> | undefined, base: number): number {
  let n = base + 1;
  while (byNonce?.has(n)) n++;
  return n;
}

/** How many of the sender's pending transactions are proposable now (the run right after `base`). */
function proposableCount(acct: Account): number {
  return firstMissingNonce(acct.byNonce, acct.base) - acct.base - 1;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export class Mempool implements VerifiedTxCache {
  readonly #deps: MempoolDeps;
  readonly #limits: MempoolLimits;
  readonly #byId = new Map<string, Entry>();
  readonly #accounts = new Map<string, Account>();
  /** Ids between the synchronous checks and the end of admission (concurrent duplicate adds). */
  // Admissions in flight (awaiting their signature check) count against no per-account or pool limit,
  // on purpose: they are not yet known to come from their sender, so counting them would let anyone
  // exhaust another sender's quota, or hold its next nonce, with forged copies and refuse the genuine
  // transaction. Unverified work is bounded where its source is known: per client by the API's rate
  // limit, per peer by p2p's stream and frame bounds.
  readonly #admitting = new Set<string>();
  #bytes = 0;
  #seq = 0;
  /** Bumped by every onBlockCommitted: a committed nonce read before a bump may be stale. */
  #epoch = 0;
  #lastAgeSweepAt = Number.NEGATIVE_INFINITY;
  /** The latest admission time of a transaction of this pool that a block included (takeStale). */
  #overtakenMark = Number.NEGATIVE_INFINITY;
  /** When a block last included a transaction of this pool (local clock; construction time at first). */
  #progressAt: number;
  /** How many pending transactions wait behind a missing nonce; undefined: to be recounted. */
  #waiting: number | undefined;
  /** Transactions dropped to make room for one that fills a nonce gap (metrics, tests). */
  evicted = 0;
  #queue: { check: SignatureCheck; done: (ok: boolean) => void; fail: (e: unknown) => void }[] = [];
  #flushScheduled = false;

  constructor(deps: MempoolDeps, limits: Partial<MempoolLimits> = {}) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_MEMPOOL_LIMITS, ...limits };
    this.#progressAt = deps.now();
  }

  get size(): number {
    return this.#byId.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(txId: Uint8Array): boolean {
    return this.#byId.has(hex(txId));
  }

  isVerified(txId: Uint8Array, signature: Uint8Array): boolean {
    const e = this.#byId.get(hex(txId));
    return e !== undefined && Buffer.compare(e.signature, signature) === 0;
  }

  /**
   * Admits a transaction or throws MempoolRejected. Resolves to its id. `from: 'peer'` (a gossip copy)
   * skips the storage read that only tells a client DUPLICATE_TX from NONCE_TOO_LOW: a peer is not
   * answered, and under load most late copies are of transactions just committed.
   */
  async add(bytes: Uint8Array, options: { from?: 'client' | 'peer' } = {}): Promise<Uint8Array> {
    const L = this.#limits;
    if (bytes.length > L.maxTxBytes) {
      throw new MempoolRejected('TX_TOO_LARGE', `${bytes.length} bytes > ${L.maxTxBytes}`);
    }
    // Under overload a full pool must refuse at the cost of a comparison, before decoding, hashing and
    // storage reads: CPU spent admitting what cannot be ordered soon is taken from consensus (issue 9).
    // Unless some of what it holds waits behind a missing nonce: then the missing one may take its place.
    if (this.#full(bytes.length) && this.#waitingCount() === 0) {
      throw new MempoolRejected('MEMPOOL_FULL', `${this.#byId.size} txs, ${this.#bytes} bytes`);
    }
    let tx: Transaction;
    try {
      tx = decodeTransaction(bytes, { chainId: this.#deps.chainId, maxBytes: L.maxTxBytes });
    } catch (e) {
      if (e instanceof WireError && e.code === 'WRONG_CHAIN')
        throw new MempoolRejected('WRONG_CHAIN', e.message);
      if (e instanceof WireError) throw new MempoolRejected('MALFORMED', e.message);
      throw e;
    }
    const now = this.#deps.now();
    if (tx.timestamp < now - L.maxAgeMs || tx.timestamp > now + L.maxFutureMs) {
      throw new MempoolRejected('TIMESTAMP_OUT_OF_WINDOW', `timestamp ${tx.timestamp}, local clock ${now}`);
    }
    // Signing bytes once, sliced from the canonical input rather than re-encoded (exec/tx-envelope.ts);
    // the id is their SHA-256 (wire transactionId, ADR 0004).
    const signingBytes = signingBytesOf(tx, bytes);
    const txId = nodeSha256(signingBytes);
    const idHex = hex(txId);
    if (this.#byId.has(idHex) || this.#admitting.has(idHex)) {
      throw new MempoolRejected('DUPLICATE_TX', 'already pending');
    }
    this.#admitting.add(idHex);
    try {
      const senderHex = hex(tx.sender);
      const account = this.#accounts.get(senderHex);
      const epoch = this.#epoch;
      let base = account?.base ?? (await this.#deps.committedNonce(tx.sender));
      // A committed transaction consumed its nonce, and its id covers sender and nonce (ADR 0004), so
      // it always fails the nonce check: the index is read only there, to tell the client which code
      // applies. A fresh transaction costs no storage read for it (issue 9 profile: ~8 % of validator
      // CPU was this per-admission LevelDB get).
      if (tx.nonce <= base) {
        if (options.from !== 'peer' && (await this.#deps.isCommitted(txId)))
          throw new MempoolRejected('DUPLICATE_TX', 'already committed');
        throw new MempoolRejected('NONCE_TOO_LOW', `nonce ${tx.nonce}, committed ${base}`);
      }
      const pending = this.#accounts.get(senderHex);
      if (pending?.byNonce.has(tx.nonce))
        throw new MempoolRejected('NONCE_TAKEN', `nonce ${tx.nonce} is pending`);
      if ((pending?.byNonce.size ?? 0) >= L.maxPerAccount || tx.nonce > base + L.maxPerAccount) {
        throw new MempoolRejected('ACCOUNT_LIMIT', `at most ${L.maxPerAccount} pending per account`);
      }
      if (this.#full(bytes.length) && tx.nonce !== firstMissingNonce(pending?.byNonce, base)) {
        throw new MempoolRejected('MEMPOOL_FULL', `${this.#byId.size} txs, ${this.#bytes} bytes`);
      }
      const ok =
        this.#deps.verified?.isVerified(txId, tx.signature) === true ||
        (await this.#verify({ signature: tx.signature, message: signingBytes, publicKey: tx.sender }));
      if (!ok) throw new MempoolRejected('BAD_SIGNATURE', 'signature does not verify');
      // Re-check what may have changed while we awaited (other admissions, a block commit).
      // A read that a block commit overtook may be stale; a sender with no account here is not refreshed
      // by onBlockCommitted, so read again until no commit happened during the read (an account with
      // a stale base would hold a transaction that can never execute until it ages out).
      for (let seen = epoch; this.#accounts.get(senderHex) === undefined && seen !== this.#epoch; ) {
        seen = this.#epoch;
        base = await this.#deps.committedNonce(tx.sender);
      }
      const acct = this.#accounts.get(senderHex) ?? { sender: tx.sender, base, byNonce: new Map() };
      if (tx.nonce <= acct.base)
        throw new MempoolRejected('NONCE_TOO_LOW', `nonce ${tx.nonce}, committed ${acct.base}`);
      if (acct.byNonce.has(tx.nonce))
        throw new MempoolRejected('NONCE_TAKEN', `nonce ${tx.nonce} is pending`);
      if (acct.byNonce.size >= L.maxPerAccount) throw new MempoolRejected('ACCOUNT_LIMIT', 'account is full');
      if (this.#full(bytes.length)) {
        // Full: only a transaction that fills its sender's first nonce gap gets in, in place of
        // transactions that wait behind a gap. Otherwise a pool filled with such transactions under
        // overload refuses the very ones they wait for, and nothing is proposable until they age out
        // (issue 9: n = 4 after 800 tx/s offered, four full pools with nothing ready, no commit for
        // minutes).
        if (tx.nonce !== firstMissingNonce(acct.byNonce, acct.base)) {
          throw new MempoolRejected('MEMPOOL_FULL', `${this.#byId.size} txs, ${this.#bytes} bytes`);
        }
        while (this.#full(bytes.length)) {
          const victim = this.#waitingVictim();
          if (victim === undefined) {
            throw new MempoolRejected('MEMPOOL_FULL', `${this.#byId.size} txs, ${this.#bytes} bytes`);
          }
          this.#remove(victim);
          this.evicted++;
        }
      }
      const entry: Entry = {
        idHex,
        txId,
        bytes,
        nonce: tx.nonce,
        timestamp: tx.timestamp,
        signature: tx.signature,
        senderHex,
        seq: this.#seq++,
        admittedAt: this.#deps.now(),
        offeredAt: now,
        reoffers: 0,
      };
      acct.byNonce.set(tx.nonce, entry);
      this.#accounts.set(senderHex, acct);
      this.#byId.set(idHex, entry);
      this.#bytes += bytes.length;
      this.#waiting = undefined;
      return txId;
    } finally {
      this.#admitting.delete(idHex);
    }
  }

  /** Signature checks of the admissions arriving in the same turn of the event loop go as one batch. */
  #verify(check: SignatureCheck): Promise<boolean> {
    return new Promise((done, fail) => {
      this.#queue.push({ check, done, fail });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          const batch = this.#queue;
          this.#queue = [];
          this.#deps.verifier.verifyBatch(batch.map((b) => b.check)).then(
            (results) => {
              batch.forEach((b, i) => {
                b.done(results[i] === true);
              });
            },
            (err) => {
              for (const b of batch) b.fail(err);
            },
          );
        });
      }
    });
  }

  /** How many transactions of `sender` are pending here. */
  pendingCount(sender: Uint8Array): number {
    return this.#accounts.get(hex(sender))?.byNonce.size ?? 0;
  }

  /**
   * The highest nonce of `sender` that is committed or pending without a gap (what its next
   * transaction should carry minus one), or undefined when nothing of the sender is pending.
   */
  pendingNonce(sender: Uint8Array): number | undefined {
    const acct = this.#accounts.get(hex(sender));
    if (acct === undefined || acct.byNonce.size === 0) return undefined;
    return firstMissingNonce(acct.byNonce, acct.base) - 1;
  }

  /**
   * Up to `maxTxs` transactions / `maxBytes` bytes for the next proposal, in arrival order among the
   * transactions that are executable next: a sender's nonce n is only taken after n-1 (or n-1 is
   * committed or listed in `inFlight`: proposed in an earlier, not yet committed block). Nothing is
   * removed: transactions leave the pool when their block commits (onBlockCommitted).
   */
  nextBatch(maxTxs: number, maxBytes: number, inFlight: ReadonlySet<string> = new Set()): Uint8Array[] {
    const heap = new EntryHeap();
    const nextOf = (acct: Account, after: number): Entry | undefined => {
      let n = after + 1;
      for (;;) {
        const e = acct.byNonce.get(n);
        if (e === undefined || !inFlight.has(e.idHex)) return e;
        n++;
      }
    };
    for (const acct of this.#accounts.values()) {
      const e = nextOf(acct, acct.base);
      if (e !== undefined) heap.push(e);
    }
    const out: Uint8Array[] = [];
    let bytes = 0;
    while (out.length < maxTxs) {
      const e = heap.pop();
      if (e === undefined) break;
      // Too big for what is left: skip this sender for this batch (its later nonces must wait too).
      if (bytes + e.bytes.length > maxBytes) continue;
      out.push(e.bytes);
      bytes += e.bytes.length;
      const next = nextOf(this.#accounts.get(e.senderHex)!, e.nonce);
      if (next !== undefined) heap.push(next);
    }
    return out;
  }

  /**
   * Proposable pending transactions due for a re-offer, oldest first, at most `max`, each stamped as
   * offered now. Gossip is best effort (a lost frame, a peer that restarted, a primary whose pool was
   * full), and a transaction that never reached the primary waits for a view change; the validator
   * re-offers these before a backup's request timer would expire (issue 9: with 1 % loss, p99 of 5-11 s).
   *
   * Due means: pending at least `ageMs`, and either overtaken (a block included a transaction admitted
   * here `ageMs` or more after it: the primary proposes by arrival, so it probably lacks this one) or
   * no block has included anything of this pool for `ageMs` (an idle chain, or a primary that has none
   * of them); then `ageMs` after its admission, and 2, 4 and from then on every 8 x `ageMs` after its
   * previous re-offer. A transaction that merely waits behind a backlog is neither, so it is not re-sent:
   * without these rules every backup re-sent its whole backlog every half second under overload: two to
   * three refused copies for every admitted transaction (ADR 0113).
   */
  takeStale(ageMs: number, max: number): Uint8Array[] {
    const now = this.#deps.now();
    const idle = now - this.#progressAt >= ageMs;
    const out: Uint8Array[] = [];
    // Only proposable ones: a transaction behind a missing nonce cannot be proposed by anyone, and
    // under overload re-offering it would only cost every peer a decode.
    const gaps = new Map<string, number>();
    for (const e of this.#byId.values()) {
      if (out.length >= max) break;
      // The pool iterates in arrival order, so from the first transaction admitted less than `ageMs`
      // ago on, none can be stale: a round costs the stale prefix, not the whole pool.
      if (now - e.admittedAt < ageMs) break;
      // Arrival order again: once one is not overtaken, none after it is.
      if (!idle && e.admittedAt + ageMs > this.#overtakenMark) break;
      if (now - e.offeredAt < ageMs * 2 ** Math.min(e.reoffers, MAX_REOFFER_DOUBLINGS)) continue;
      let gap = gaps.get(e.senderHex);
      if (gap === undefined) {
        const acct = this.#accounts.get(e.senderHex)!;
        gap = firstMissingNonce(acct.byNonce, acct.base);
        gaps.set(e.senderHex, gap);
      }
      if (e.nonce > gap) continue;
      e.offeredAt = now;
      e.reoffers++;
      out.push(e.bytes);
    }
    return out;
  }

  #full(extraBytes: number): boolean {
    return this.#byId.size >= this.#limits.maxTxs || this.#bytes + extraBytes > this.#limits.maxBytes;
  }

  /** Pending transactions that wait behind a missing nonce (recounted only after a change). */
  #waitingCount(): number {
    this.#waiting ??= this.#byId.size - this.readyCount();
    return this.#waiting;
  }

  /**
   * What to drop for a gap-filling transaction: the highest-nonce transaction of the sender with the
   * most transactions waiting behind a gap (the furthest from being proposable), or undefined when
   * nothing waits.
   */
  #waitingVictim(): Entry | undefined {
    let best: Account | undefined;
    let most = 0;
    for (const acct of this.#accounts.values()) {
      const waiting = acct.byNonce.size - proposableCount(acct);
      if (waiting > most) {
        most = waiting;
        best = acct;
      }
    }
    if (best === undefined) return undefined;
    let top: Entry | undefined;
    for (const e of best.byNonce.values()) if (top === undefined || e.nonce > top.nonce) top = e;
    return top;
  }

  /**
   * How many pending transactions could be proposed now: per sender, the run of consecutive nonces
   * right after its committed nonce. The rest wait for a missing nonce (a transaction lost under
   * overload, or not yet arrived): a pool whose size stays above zero while this is zero is waiting
   * for clients, not stuck in consensus (the status endpoint reports both).
   */
  readyCount(): number {
    let ready = 0;
    for (const acct of this.#accounts.values()) ready += proposableCount(acct);
    return ready;
  }

  /**
   * After a block is applied: drop its transactions, refresh the committed nonce of every sender it
   * touched and drop what can no longer execute (nonce now too low), then drop every transaction that
   * has aged out of the timestamp window.
   */
  async onBlockCommitted(txs: readonly Uint8Array[]): Promise<void> {
    this.#epoch++;
    // Only senders with something pending here can lose anything: a node catching up (empty pool) or
    // a block of other validators' clients costs no id hashing and no nonce read (issue 9 profile of
    // a catching-up node: this method was 8 % of its CPU with nothing to remove).
    if (this.#byId.size === 0) return;
    const touched = new Map<string, Uint8Array>();
    // Pending transactions whose id the block carries. They are NOT removed for that: a block also
    // carries transactions it rejects without consuming their nonce (NONCE_GAP when a proposer after a
    // view change took nonce n + 1 without n, or a copy with a mangled signature: same id, since the id
    // does not cover the signature). Dropping those here lost them on every validator (and stalled the
    // sender's later nonces behind the gap) although the executor keeps them executable on purpose.
    // Only the committed nonce decides: whatever is at or below it has executed or never can.
    const carried: Entry[] = [];
    for (const bytes of txs) {
      let tx: Transaction;
      try {
        tx = decodeTransaction(bytes, { chainId: this.#deps.chainId });
      } catch {
        continue;
      }
      const senderHex = hex(tx.sender);
      if (!this.#accounts.has(senderHex)) continue;
      const e = this.#byId.get(hex(nodeSha256(signingBytesOf(tx, bytes))));
      if (e !== undefined) carried.push(e);
      touched.set(senderHex, tx.sender);
    }
    for (const [senderHex, sender] of touched) {
      const base = await this.#deps.committedNonce(sender);
      const acct = this.#accounts.get(senderHex);
      if (acct === undefined) continue;
      acct.base = base;
      this.#waiting = undefined;
      for (const e of [...acct.byNonce.values()]) if (e.nonce <= base) this.#remove(e);
    }
    // Included means executed: the block consumed its nonce (so it left the pool just above).
    let included = false;
    for (const e of carried) {
      if (this.#byId.get(e.idHex) === e) continue;
      if (e.admittedAt > this.#overtakenMark) this.#overtakenMark = e.admittedAt;
      included = true;
    }
    if (included) this.#progressAt = this.#deps.now();
    // The age sweep walks the whole pool: at most once a second, not once per block (timestamps are
    // checked to the second's precision anyway, and a block rate of tens per second under load made
    // this O(pool) per block).
    const now = this.#deps.now();
    if (now - this.#lastAgeSweepAt < AGE_SWEEP_INTERVAL_MS) return;
    this.#lastAgeSweepAt = now;
    const oldest = now - this.#limits.maxAgeMs;
    for (const e of [...this.#byId.values()]) if (e.timestamp < oldest) this.#remove(e);
  }

  #remove(e: Entry): void {
    this.#waiting = undefined;
    this.#byId.delete(e.idHex);
    this.#bytes -= e.bytes.length;
    const acct = this.#accounts.get(e.senderHex);
    if (acct === undefined) return;
    acct.byNonce.delete(e.nonce);
    if (acct.byNonce.size === 0) this.#accounts.delete(e.senderHex);
  }
}

/** A binary min-heap of entries by arrival order. */
class EntryHeap {
  readonly #a: Entry[] = [];

  push(e: Entry): void {
    const a = this.#a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.seq <= a[i]!.seq) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): Entry | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.seq < a[m]!.seq) m = l;
        if (r < a.length && a[r]!.seq < a[m]!.seq) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
