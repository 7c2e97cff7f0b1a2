// When the node asks its replica to cite a quiet chain's state (ADR 0125): a header cites the state
// after an earlier block (pipelining, ADR 0010), and the primary proposes only when transactions wait,
// so after the last transactions of a burst no certified header covers their state. Their outcome
// (ADR 0123) and every newest value stay unprovable until the next traffic, which on a quiet ward may
// be hours away. Once the node has been idle for `quietMs`, the primary asks for a block without
// transactions citing its executed state, and again (without waiting) until a committed header cites
// a state at or after the last transactions' height rounded up to the state-root interval k (with
// k > 1 a root covers only multiples of k, ADR 0117): one block with k = 1, at most k in all.
// Pure (a driver's policy, not the core's): the validator and the simulator feed it blocks, arrivals and
// their clock, and ask it on every tick.

export interface StateCitationOptions {
  /** How long the node must see no transactions before it asks (ms). */
  quietMs: number;
  /** k of ADR 0117: the state committed to by a root cited at height s is that after s - (s mod k). */
  stateRootInterval: number;
}

/**
 * Long enough that a ward's steady traffic, which certifies the state by itself within k blocks, never
 * triggers it: with k = 8 every citation costs up to 8 blocks, and at 250 ms the devnet's ward (a block
 * every ~2 s) produced three empty blocks for every block with transactions. Short enough that a
 * device waiting to prove its last readings (ADR 0123) is not kept waiting long on a quiet chain.
 */
export const DEFAULT_CITE_QUIET_MS = 5_000;

/** What the validator knows at a tick. */
export interface CitationContext {
  isPrimary: boolean;
  /** Transactions in the mempool. */
  pending: number;
  /** This replica's own blocks proposed and not yet committed. */
  inFlight: number;
  /** Every committed block is executed (the replica cites only its executed state). */
  executedAll: boolean;
}

export class StateCitation {
  readonly #quietMs: number;
  readonly #k: number;
  /** The newest applied height that carried transactions (0: none since start). */
  #lastTxHeight = 0;
  /** The highest stateHeight an applied block's header cites. */
  #citedThrough = 0;
  #lastActivity = Number.NEGATIVE_INFINITY;
  /** Blocks asked for since start (status and tests). */
  requested = 0;

  constructor(o: StateCitationOptions) {
    if (!(o.quietMs >= 0)) throw new RangeError('quietMs must be >= 0');
    if (!Number.isSafeInteger(o.stateRootInterval) || o.stateRootInterval < 1)
      throw new RangeError('stateRootInterval must be a whole number >= 1');
    this.#quietMs = o.quietMs;
    this.#k = o.stateRootInterval;
  }

  /** A block was applied (live or in a certified range). */
  applied(height: number, txCount: number, stateHeight: number, now: number): void {
    if (stateHeight > this.#citedThrough) this.#citedThrough = stateHeight;
    if (txCount > 0) {
      if (height > this.#lastTxHeight) this.#lastTxHeight = height;
      this.#lastActivity = now;
    }
  }

  /** Transactions arrived: the chain is not quiet. */
  activity(now: number): void {
    this.#lastActivity = now;
  }

  /** The height a committed header must cite for the last transactions' state to be certified. */
  get wanted(): number {
    if (this.#lastTxHeight === 0) return 0;
    return Math.ceil(this.#lastTxHeight / this.#k) * this.#k;
  }

  /** `through` for a citeState event now, or undefined when there is nothing to ask. */
  due(now: number, c: CitationContext): number | undefined {
    if (!c.isPrimary || c.pending > 0 || c.inFlight > 0 || !c.executedAll) return undefined;
    const through = this.wanted;
    if (through === 0 || this.#citedThrough >= through) return undefined;
    if (now - this.#lastActivity < this.#quietMs) return undefined;
    this.requested++;
    return through;
  }
}
