// When the node hands its pending transactions to the replica (a `propose` event): by count, by time,
// and never more than a few of this replica's own blocks in flight (ADR 0091).
//
// Proposing as soon as anything is pending made blocks of 1-5 transactions, so every transaction paid a
// whole block's consensus messages, fsync and execution. Under overload the opposite happened: the
// mempool grew to thousands, the primary proposed blocks of up to maxBlockTxs, a block took longer than
// the 1 s request timer to commit on a loaded machine, and backups changed view again and again (each
// new view committing about one block) while the mempool kept growing: the chain stopped.
// The batcher fixes both ends:
//   - a proposal is due when a full batch (`batchTxs`) waits, or `maxDelayMs` after the first
//     transaction started waiting: an idle network still commits one transaction promptly;
//   - the primary keeps at most `maxInFlightBlocks` of its own blocks proposed and not yet committed;
//     while that many are in flight, transactions accumulate, and the next block carries them all (up to
//     `batchTxs`): block size follows load, and commits keep coming, so backups' request timers
//     (Castro & Liskov, TOCS 2002, §4.4) see progress instead of one ever larger block.
// Backups receive the same events (they arm their request timers from them, and the replica hashes
// every transaction handed over), but only every `backupIntervalMs`: the request timer is a second, so
// arming it tens of ms later changes nothing, while doing it on every arrival under load costs CPU.
import type { TimerHost } from './replica-driver.ts';

export interface ProposalBatchOptions {
  /** A proposal is due as soon as this many new transactions wait; also the most handed over at once. */
  batchTxs: number;
  /** The longest a pending transaction waits for a batch to fill (ms). */
  maxDelayMs: number;
  /** Most of this replica's own blocks proposed and not yet committed before it waits for a commit. */
  maxInFlightBlocks: number;
  /** How often at most a backup hands its pending transactions over (ms). */
  backupIntervalMs: number;
  /**
   * Execution time one block may take (ms), judged from the measured cost per transaction: the batch
   * shrinks below `batchTxs` when execution is slow (a loaded machine), so that a block commits and
   * executes well within the request timer. The validator uses a quarter of viewChangeTimeoutMs.
   */
  blockBudgetMs: number;
}

/** Blocks never shrink below this many transactions: per-block overhead would dominate. */
const MIN_ADAPTIVE_BATCH = 16;
/** Weight of the newest block in the moving average of execution cost per transaction. */
const EWMA_WEIGHT = 0.2;

export const DEFAULT_PROPOSAL_BATCH: ProposalBatchOptions = {
  batchTxs: 500,
  maxDelayMs: 5,
  maxInFlightBlocks: 2,
  backupIntervalMs: 50,
  blockBudgetMs: 250,
};

export class ProposalBatchError extends Error {
  readonly code = 'INVALID_PROPOSAL_BATCH';
  constructor(message: string) {
    super(message);
    this.name = 'ProposalBatchError';
  }
}

export function validateProposalBatch(o: ProposalBatchOptions): ProposalBatchOptions {
  if (!Number.isSafeInteger(o.batchTxs) || o.batchTxs < 1)
    throw new ProposalBatchError('batchTxs must be >= 1');
  if (!Number.isFinite(o.maxDelayMs) || o.maxDelayMs < 0)
    throw new ProposalBatchError('maxDelayMs must be >= 0');
  if (!Number.isSafeInteger(o.maxInFlightBlocks) || o.maxInFlightBlocks < 1)
    throw new ProposalBatchError('maxInFlightBlocks must be >= 1');
  if (!Number.isFinite(o.backupIntervalMs) || o.backupIntervalMs < 0)
    throw new ProposalBatchError('backupIntervalMs must be >= 0');
  if (!(o.blockBudgetMs > 0)) throw new ProposalBatchError('blockBudgetMs must be > 0');
  return o;
}

/**
 * Reads VIGIL_PROPOSAL_BATCH_TXS, VIGIL_PROPOSAL_DELAY_MS and VIGIL_PROPOSAL_IN_FLIGHT (benchmarks and
 * operators tuning a node); anything unset keeps the default.
 */
export function proposalBatchFromEnv(env: NodeJS.ProcessEnv = process.env): ProposalBatchOptions {
  const num = (name: string, fallback: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ProposalBatchError(`${name} is not a number: ${v}`);
    return n;
  };
  const d = DEFAULT_PROPOSAL_BATCH;
  return validateProposalBatch({
    batchTxs: num('VIGIL_PROPOSAL_BATCH_TXS', d.batchTxs),
    maxDelayMs: num('VIGIL_PROPOSAL_DELAY_MS', d.maxDelayMs),
    maxInFlightBlocks: num('VIGIL_PROPOSAL_IN_FLIGHT', d.maxInFlightBlocks),
    backupIntervalMs: d.backupIntervalMs,
    blockBudgetMs: num('VIGIL_PROPOSAL_BLOCK_BUDGET_MS', d.blockBudgetMs),
  });
}

export interface ProposalBatcherDeps {
  timers: TimerHost;
  clock: () => number;
  /** Transactions in the mempool, including those in blocks still in flight. */
  pending(): number;
  /** Whether this replica is the primary of its current view. */
  isPrimary(): boolean;
  /** This replica's own blocks proposed and not yet committed (0 for a backup). */
  inFlightBlocks(): number;
  /**
   * Hands the replica the first `maxTxs` executable pending transactions (mempool order; those already
   * in blocks in flight come first and the replica skips them). 0 tells it nothing is pending.
   */
  propose(maxTxs: number): void;
}

export class ProposalBatcher {
  readonly #o: ProposalBatchOptions;
  readonly #d: ProposalBatcherDeps;
  /** When the oldest transaction not yet handed over started waiting. */
  #waitingSince: number | undefined;
  #timer: unknown;
  #timerDue = 0;
  /** The replica was last told that nothing is pending (so it is not told again). */
  #toldEmpty = true;
  #stopped = false;
  /** Moving average of execution ms per transaction (undefined until a block was measured). */
  #msPerTx: number | undefined;
  proposals = 0;

  constructor(options: ProposalBatchOptions, deps: ProposalBatcherDeps) {
    this.#o = validateProposalBatch({ ...options });
    this.#d = deps;
  }

  /** Something changed: transactions arrived, a block committed, or a periodic tick. */
  notify(): void {
    if (this.#stopped) return;
    const now = this.#d.clock();
    const pending = this.#d.pending();
    if (pending === 0) {
      this.#waitingSince = undefined;
      if (!this.#toldEmpty) this.#arm(now, now);
      return;
    }
    this.#waitingSince ??= now;
    if (!this.#d.isPrimary()) {
      this.#arm(now, this.#waitingSince + Math.max(this.#o.maxDelayMs, this.#o.backupIntervalMs));
      return;
    }
    const inFlight = this.#d.inFlightBlocks();
    // A full pipeline: the next commit notifies again, and what waits meanwhile joins the next block.
    if (inFlight >= this.#o.maxInFlightBlocks) return;
    const full = pending >= (inFlight + 1) * this.batchTxs;
    this.#arm(now, full ? now : this.#waitingSince + this.#o.maxDelayMs);
  }

  /** A block of `txs` transactions took `ms` to execute here: adapts the batch (blockBudgetMs). */
  recordExecution(txs: number, ms: number): void {
    if (txs <= 0 || !(ms >= 0)) return;
    const per = ms / txs;
    this.#msPerTx = this.#msPerTx === undefined ? per : this.#msPerTx + EWMA_WEIGHT * (per - this.#msPerTx);
  }

  /** The batch in force: `batchTxs`, or fewer when execution is slow enough to exceed the budget. */
  get batchTxs(): number {
    const cap = this.#o.batchTxs;
    if (this.#msPerTx === undefined || this.#msPerTx <= 0) return cap;
    const fit = Math.floor(this.#o.blockBudgetMs / this.#msPerTx);
    return Math.max(Math.min(cap, MIN_ADAPTIVE_BATCH), Math.min(cap, fit));
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel();
  }

  /** Arms (or brings forward) the one timer that proposes at `due`. */
  #arm(now: number, due: number): void {
    if (this.#timer !== undefined) {
      if (this.#timerDue <= due) return;
      this.#cancel();
    }
    this.#timerDue = due;
    this.#timer = this.#d.timers.set(() => this.#fire(), Math.max(0, due - now));
  }

  #cancel(): void {
    if (this.#timer === undefined) return;
    this.#d.timers.clear(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const pending = this.#d.pending();
    if (pending === 0) {
      this.#toldEmpty = true;
      this.#d.propose(0);
      return;
    }
    const inFlight = this.#d.inFlightBlocks();
    if (inFlight >= this.#o.maxInFlightBlocks) return;
    this.#waitingSince = undefined;
    this.#toldEmpty = false;
    this.proposals++;
    // The transactions of the blocks in flight come first in mempool order and the replica skips them;
    // what follows them, up to one batch, is new.
    this.#d.propose((inFlight + 1) * this.batchTxs);
  }
}
