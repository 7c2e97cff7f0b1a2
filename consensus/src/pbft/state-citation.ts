// When the node asks its replica to cite a quiet chain's state (ADR 0125): a header cites the state
// after an earlier block (pipelining, ADR 0010), and the primary proposes only when transactions wait,
// so after the last transactions of a burst no certified header covers their state. Their outcome
// (ADR 0123) and every newest value stay unprovable until the next traffic, which on a quiet ward may
// be hours away. Once the node has been idle for `quietMs`, the primary asks for a block without
// transactions citing its executed state, and again (without waiting) until a committed header cites
// a state at or after the last transactions' height rounded up to the state-root interval k (with
// k > 1 a root covers only multiples of k, ADR 0117): one block with k = 1, at most k in all.
// Backups ask too, later (ADR 0128): a backup's request tells its replica to expect the citation and to
// treat a primary that does not produce it like one that sits on a request (§4.4's request timer), so a
// primary that crashed or stays silent in the quiet period is replaced by a view change, and the next
// primary cites. Backups wait twice as long as the primary, so a correct primary's block normally
// commits before any backup starts expecting it.
// Pure (a driver's policy, not the core's): the validator and the simulator feed it blocks, arrivals and
// their clock, and ask it on every tick.

export interface StateCitationOptions {
  /** How long the node must see no transactions before it asks (ms). */
  quietMs: number;
  /** k of ADR 0117: the state committed to by a root cited at height s is that after s - (s mod k). */
  stateRootInterval: number;
  /** How long a backup waits before it expects the citation (ms, ADR 0128). Default 2 x quietMs. */
  backupQuietMs?: number;
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
  /** Transactions in the mempool (a backup's wait for them is the core's ordinary request timer). */
  pending: number;
  /** This replica's own blocks proposed and not yet committed. */
  inFlight: number;
  /** Every committed block is executed (the replica cites only its executed state). */
  executedAll: boolean;
}

export class StateCitation {
  readonly #quietMs: number;
  readonly #backupQuietMs: number;
  readonly #k: number;
  /** The newest applied height that carried transactions (0: none since start). */
  #lastTxHeight = 0;
  /** The highest stateHeight an applied block's header cites. */
  #citedThrough = 0;
  #lastActivity = Number.NEGATIVE_INFINITY;
  /** Blocks asked for since start, as primary (status and tests). */
  requested = 0;
  /** Citations a backup started expecting since start, each `through` counted once (ADR 0128). */
  expected = 0;
  #lastExpected = 0;

  constructor(o: StateCitationOptions) {
    if (!(o.quietMs >= 0)) throw new RangeError('quietMs must be >= 0');
    if (!Number.isSafeInteger(o.stateRootInterval) || o.stateRootInterval < 1)
      throw new RangeError('stateRootInterval must be a whole number >= 1');
    if (o.backupQuietMs !== undefined && !(o.backupQuietMs >= o.quietMs))
      throw new RangeError('backupQuietMs must be >= quietMs');
    this.#quietMs = o.quietMs;
    this.#backupQuietMs = o.backupQuietMs ?? 2 * o.quietMs;
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

  /**
   * `through` for a citeState event now, or undefined when there is nothing to ask. The primary asks
   * for the block; a backup asks its replica to expect it (ADR 0128), on every tick while it is due, as
   * its replica may have been unable to take it (in a view change) at the first.
   */
  due(now: number, c: CitationContext): number | undefined {
    if (c.pending > 0 || !c.executedAll) return undefined;
    if (c.isPrimary && c.inFlight > 0) return undefined;
    const through = this.wanted;
    if (through === 0 || this.#citedThrough >= through) return undefined;
    if (now - this.#lastActivity < (c.isPrimary ? this.#quietMs : this.#backupQuietMs)) return undefined;
    if (c.isPrimary) this.requested++;
    else if (through > this.#lastExpected) {
      this.#lastExpected = through;
      this.expected++;
    }
    return through;
  }
}
