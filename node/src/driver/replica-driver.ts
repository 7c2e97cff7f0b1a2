// The driver: the one loop that feeds events into the pure PBFT replica and carries out its Ready in
// the order the contract demands (consensus/src/pbft/types.ts): persist durably, then send, then apply
// committed blocks, then timers and state transfer. It is the only place where the replica meets a
// real clock, real timers, the disk and the network, so it is written against small interfaces that
// the validator process wires to LevelDB and libp2p, and that tests wire to in-memory fakes.
//
// Group commit: events that are already queued are stepped together and their records persisted in
// one fsynced write before any of their messages leave. That keeps "persist before send" (Castro &
// Liskov, TOCS 2002 §5.3: a replica must not contradict what it sent before a crash) while paying one
// fsync per burst instead of one per message.
import type {
  CommittedBlock,
  Event,
  Outbound,
  PersistRecord,
  Ready,
  Replica,
  StateTransferRequest,
  TimerAction,
  TimerId,
} from '@vigil/consensus/pbft';

/** Durable storage for the replica's records (node/src/consensus-store). */
export interface RecordSink {
  persist(records: readonly PersistRecord[]): Promise<void>;
}

/** Where consensus messages go; `to` is a validator index. */
export interface ConsensusOutbox {
  send(to: number, message: Uint8Array): void;
  broadcast(message: Uint8Array): void;
}

/** A validator-set change a block decided (ADR 0015): `validators` certify heights from `fromHeight`. */
export interface DecidedReconfiguration {
  fromHeight: number;
  validators: Uint8Array[];
}

/** Applies a committed block durably and returns the state root after it. */
export interface CommitSink {
  /**
   * `certified`: the block came from another replica with its commit certificate (block sync), not
   * from this replica's own commit decision; the sink verifies the certificate and may skip
   * per-transaction signature checks (ADR 0031).
   */
  apply(
    committed: CommittedBlock,
    certified: boolean,
  ): Promise<{ height: number; stateRoot: Uint8Array; reconfigurations?: DecidedReconfiguration[] }>;
  /** The height already applied (a block at or below it is skipped: applied exactly once). */
  appliedHeight(): number;
  /**
   * Optional: applies a prefix of these certified blocks (block sync) as one range, computing the state
   * root only after the last (ADR 0115). Stops after a block that decided a reconfiguration, so the
   * driver hands it to the replica before the blocks it governs. Without it, sync applies block by block.
   */
  applyCertifiedRange?(blocks: readonly CommittedBlock[]): Promise<AppliedRange>;
}

/** What applyCertifiedRange applied: at least the first block given. */
export interface AppliedRange {
  blocks: { height: number; reconfigurations?: DecidedReconfiguration[] }[];
  /** The last applied height and the state root after it. */
  height: number;
  stateRoot: Uint8Array;
}

/**
 * Fetches certified blocks from peers up to a stable checkpoint and hands them to
 * `ReplicaDriver.syncBlocks`; resolves when done. Failures are retried when the replica asks again.
 */
export interface StateTransferHost {
  transfer(request: StateTransferRequest): Promise<void>;
}

export interface TimerHost {
  set(callback: () => void, afterMs: number): unknown;
  clear(handle: unknown): void;
}

export interface DriverLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DriverOptions {
  replica: Replica;
  records: RecordSink;
  outbox: ConsensusOutbox;
  commits: CommitSink;
  stateTransfer: StateTransferHost;
  clock: () => number;
  timers?: TimerHost;
  log?: DriverLogger;
  /** Incoming events beyond this are dropped (counted): PBFT recovers lost messages by retransmission
   *  and view change, and a flood must not grow memory without bound. */
  maxQueuedEvents?: number;
  /** Most events stepped before one group-committed persist/send. */
  maxEventsPerBurst?: number;
  /** Called after each block is applied (metrics, API waiters, mempool clean-up); `stateRoot` is
   *  undefined for a block applied inside a range but not last (it was never computed). */
  onApplied?: (committed: CommittedBlock, stateRoot: Uint8Array | undefined) => void | Promise<void>;
}

export class DriverError extends Error {
  readonly code: 'DRIVER_STOPPED' | 'PERSIST_FAILED' | 'APPLY_FAILED';
  constructor(code: DriverError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DriverError';
    this.code = code;
  }
}

const realTimers: TimerHost = {
  set: (cb, ms) => setTimeout(cb, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const silent: DriverLogger = { info() {}, warn() {}, error() {} };

export interface DriverStats {
  eventsProcessed: number;
  eventsDropped: number;
  bursts: number;
  recordsPersisted: number;
  messagesSent: number;
  blocksApplied: number;
  stateTransfers: number;
  /** Queued timeouts dropped because their timer was re-armed or cancelled meanwhile. */
  staleTimeoutsDropped: number;
}

/** Certified blocks from block sync, applied inside the loop so they never race the replica's commits. */
interface SyncJob {
  type: 'sync';
  blocks: readonly CommittedBlock[];
  done: (height: number) => void;
  fail: (err: unknown) => void;
}

type Job = Event | SyncJob;

/** The last block a sync applied: what the replica is told it transferred to. */
interface SyncPoint {
  height: number;
  stateRoot: Uint8Array;
  blockHash: Uint8Array;
}

const isSyncJob = (job: Job): job is SyncJob => job.type === 'sync';

export class ReplicaDriver {
  readonly #o: Required<Omit<DriverOptions, 'onApplied'>> & Pick<DriverOptions, 'onApplied'>;
  readonly #queue: Job[] = [];
  readonly #timers = new Map<TimerId, unknown>();
  /** Timeout events fired and queued, by timer: the only ones the replica may still be stepped with. */
  readonly #firedTimeouts = new Map<TimerId, Event>();
  #running = false;
  #stopped = false;
  #pump: Promise<void> = Promise.resolve();
  #transferring = false;
  #fatal: unknown;
  readonly #stats: DriverStats = {
    eventsProcessed: 0,
    eventsDropped: 0,
    bursts: 0,
    recordsPersisted: 0,
    messagesSent: 0,
    blocksApplied: 0,
    stateTransfers: 0,
    staleTimeoutsDropped: 0,
  };

  constructor(options: DriverOptions) {
    this.#o = {
      timers: realTimers,
      log: silent,
      maxQueuedEvents: 20_000,
      maxEventsPerBurst: 256,
      ...options,
    };
  }

  get replica(): Replica {
    return this.#o.replica;
  }

  stats(): DriverStats {
    return { ...this.#stats };
  }

  /** A fatal error (a failed fsync or block application): the node must stop, not carry on. */
  get fatal(): unknown {
    return this.#fatal;
  }

  /**
   * Starts processing. Tells the replica what is already applied on disk first, so that after a crash
   * it re-delivers only the committed blocks above it (docs/consensus.md, "Persistence").
   */
  start(appliedStateRoot: Uint8Array, reconfigurations: readonly DecidedReconfiguration[] = []): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    const applied = this.#o.commits.appliedHeight();
    if (applied > 0) this.#queue.unshift({ type: 'executed', height: applied, stateRoot: appliedStateRoot });
    // Changes the applied blocks decided go in before that `executed` (types.ts): a crash may have
    // come between applying a deciding block and handing its change in. Known ones are ignored.
    this.#queue.unshift(...reconfigurations.map((r) => ({ type: 'reconfigure' as const, ...r })));
    this.#queue.push({ type: 'tick', now: this.#o.clock() });
    this.#kick();
  }

  /** Stops timers and the loop; resolves once the event in progress (and its writes) are done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#running = false;
    for (const h of this.#timers.values()) this.#o.timers.clear(h);
    this.#timers.clear();
    this.#firedTimeouts.clear();
    this.#queue.length = 0;
    await this.#pump;
  }

  /** Queues an event from outside (network, mempool, ticker). Returns false when it was dropped. */
  enqueue(event: Event): boolean {
    if (this.#stopped) return false;
    if (this.#queue.length >= this.#o.maxQueuedEvents && event.type === 'receive') {
      this.#stats.eventsDropped++;
      return false;
    }
    this.#queue.push(event);
    this.#kick();
    return true;
  }

  /**
   * Applies certified blocks fetched from peers (catch-up after downtime, state transfer), in the loop,
   * skipping those already applied, then tells the replica where it now stands. Resolves with the
   * applied height.
   */
  syncBlocks(blocks: readonly CommittedBlock[]): Promise<number> {
    if (this.#stopped) return Promise.reject(new DriverError('DRIVER_STOPPED', 'the driver is stopped'));
    return new Promise<number>((done, fail) => {
      this.#queue.push({ type: 'sync', blocks, done, fail });
      this.#kick();
    });
  }

  /** Resolves when every event queued so far has been processed (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#busy) {
      await this.#pump;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  #busy = false;

  #kick(): void {
    if (!this.#running || this.#busy) return;
    this.#busy = true;
    this.#pump = this.#drain()
      .catch((err) => {
        this.#fatal = err;
        this.#running = false;
        this.#o.log.error(
          { err: String(err), code: (err as { code?: string }).code },
          'consensus driver stopped',
        );
      })
      .finally(() => {
        this.#busy = false;
        if (this.#running && this.#queue.length > 0) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    while (this.#running && this.#queue.length > 0) {
      const burst: Ready = { persist: [], send: [], commit: [], timers: [] };
      let stateTransfer: StateTransferRequest | undefined;
      let n = 0;
      const head = this.#queue[0]!;
      if (isSyncJob(head)) {
        this.#queue.shift();
        await this.#sync(head);
        continue;
      }
      while (this.#queue.length > 0 && n < this.#o.maxEventsPerBurst && !isSyncJob(this.#queue[0]!)) {
        const event = this.#queue.shift() as Event;
        if (!this.#isLiveTimeout(event)) continue;
        const ready = this.#o.replica.step(event);
        // An expiry already queued for a timer this step re-arms or cancels is stale from now on, even
        // if it sits later in this very burst.
        for (const a of ready.timers) this.#firedTimeouts.delete(a.timer);
        n++;
        burst.persist.push(...ready.persist);
        burst.send.push(...ready.send);
        burst.commit.push(...ready.commit);
        burst.timers.push(...ready.timers);
        if (ready.stateTransfer) stateTransfer = ready.stateTransfer;
        // A commit must be applied before later events are stepped: the replica's next decisions
        // (its executed roots, checkpoints) depend on it.
        if (ready.commit.length > 0) break;
      }
      this.#stats.eventsProcessed += n;
      this.#stats.bursts++;
      this.#noteView();
      await this.#carryOut(burst, stateTransfer);
    }
  }

  #lastView = { view: 0, active: true };

  /** Logs view transitions: an operator (and a benchmark) must be able to see view changes happen. */
  #noteView(): void {
    const r = this.#o.replica;
    const { view, active } = r;
    if (view === this.#lastView.view && active === this.#lastView.active) return;
    this.#lastView = { view, active };
    this.#o.log.info(
      { view, active, lastCommitted: r.lastCommitted, queued: this.#queue.length },
      active ? 'view installed' : 'view change started',
    );
  }

  async #sync(job: SyncJob): Promise<void> {
    let last: SyncPoint | undefined;
    const progress = (p: SyncPoint) => {
      last = p;
    };
    try {
      if (this.#o.commits.applyCertifiedRange !== undefined) await this.#syncRanges(job.blocks, progress);
      else await this.#syncEach(job.blocks, progress);
    } catch (err) {
      // A block from a peer that does not apply is that peer's problem, not a reason to stop.
      this.#o.log.warn({ err: String((err as { cause?: unknown }).cause ?? err) }, 'synced block rejected');
      job.fail(err);
      if (!last) return;
    }
    if (last) {
      this.#stats.stateTransfers++;
      const ready = this.#o.replica.step({ type: 'stateTransferred', ...last });
      await this.#carryOut(ready, ready.stateTransfer);
    }
    job.done(this.#o.commits.appliedHeight());
  }

  /** Block sync one block at a time (a CommitSink without applyCertifiedRange). */
  async #syncEach(blocks: readonly CommittedBlock[], progress: (last: SyncPoint) => void): Promise<void> {
    for (const committed of blocks) {
      const done = await this.#apply(committed, true);
      if (!done) continue;
      progress({
        height: done.height,
        stateRoot: done.stateRoot,
        blockHash: committed.certificate.blockHash,
      });
      // A change takes effect for later blocks of this very batch: hand it in now (ADR 0015).
      for (const r of done.reconfigurations ?? []) {
        const ready = this.#o.replica.step({ type: 'reconfigure', ...r });
        await this.#carryOut(ready, ready.stateTransfer);
      }
    }
  }

  /**
   * Block sync through applyCertifiedRange: ranges until every block is applied. `progress` gets the
   * last applied point after each range, so a failure later still reports what was applied.
   */
  async #syncRanges(blocks: readonly CommittedBlock[], progress: (last: SyncPoint) => void): Promise<void> {
    const applyRange = this.#o.commits.applyCertifiedRange!.bind(this.#o.commits);
    let rest = blocks.filter((b) => b.block.header.height > this.#o.commits.appliedHeight());
    while (rest.length > 0) {
      const first = rest[0]!.block.header.height;
      let range: AppliedRange;
      try {
        range = await applyRange(rest);
      } catch (err) {
        throw new DriverError('APPLY_FAILED', `could not apply committed block ${first}`, { cause: err });
      }
      const applied = rest.slice(0, range.blocks.length);
      rest = rest.slice(range.blocks.length);
      this.#stats.blocksApplied += applied.length;
      for (let i = 0; i < applied.length; i++) {
        const committed = applied[i]!;
        const isLast = i === applied.length - 1;
        await this.#o.onApplied?.(committed, isLast ? range.stateRoot : undefined);
      }
      progress({
        height: range.height,
        stateRoot: range.stateRoot,
        blockHash: applied[applied.length - 1]!.certificate.blockHash,
      });
      // A change takes effect for later blocks of this very batch: hand it in now (ADR 0015). The range
      // ended at the block that decided it.
      for (const b of range.blocks) {
        for (const r of b.reconfigurations ?? []) {
          const ready = this.#o.replica.step({ type: 'reconfigure', ...r });
          await this.#carryOut(ready, ready.stateTransfer);
        }
      }
    }
  }

  async #carryOut(ready: Ready, stateTransfer: StateTransferRequest | undefined): Promise<void> {
    // 1. persist
    if (ready.persist.length > 0) {
      try {
        await this.#o.records.persist(ready.persist);
      } catch (err) {
        throw new DriverError('PERSIST_FAILED', 'could not persist consensus records', { cause: err });
      }
      this.#stats.recordsPersisted += ready.persist.length;
    }
    // 2. send
    for (const out of ready.send) this.#send(out);
    // 3. apply, feeding each block's state root straight back (ahead of queued input, in height order)
    //    so the replica can validate later proposals and take checkpoints
    const executed: Event[] = [];
    for (const committed of ready.commit) {
      const done = await this.#apply(committed, false);
      if (!done) continue;
      // A change the block decided goes in before its `executed` (types.ts, ADR 0015).
      for (const r of done.reconfigurations ?? []) executed.push({ type: 'reconfigure', ...r });
      executed.push({ type: 'executed', height: done.height, stateRoot: done.stateRoot });
    }
    this.#queue.unshift(...executed);
    // 4. timers, then state transfer
    for (const t of ready.timers) this.#timer(t);
    if (stateTransfer) this.#startTransfer(stateTransfer);
  }

  #send(out: Outbound): void {
    this.#stats.messagesSent++;
    if (out.to === 'all') this.#o.outbox.broadcast(out.message);
    else this.#o.outbox.send(out.to, out.message);
  }

  async #apply(
    committed: CommittedBlock,
    certified: boolean,
  ): Promise<
    { height: number; stateRoot: Uint8Array; reconfigurations?: DecidedReconfiguration[] } | undefined
  > {
    const height = committed.block.header.height;
    if (height <= this.#o.commits.appliedHeight()) return undefined;
    let result: { height: number; stateRoot: Uint8Array; reconfigurations?: DecidedReconfiguration[] };
    try {
      result = await this.#o.commits.apply(committed, certified);
    } catch (err) {
      throw new DriverError('APPLY_FAILED', `could not apply committed block ${height}`, { cause: err });
    }
    this.#stats.blocksApplied++;
    await this.#o.onApplied?.(committed, result.stateRoot);
    return result;
  }

  #timer(t: TimerAction): void {
    const existing = this.#timers.get(t.timer);
    if (existing !== undefined) {
      this.#o.timers.clear(existing);
      this.#timers.delete(t.timer);
    }
    // A timeout that already fired but still waits in the queue belongs to the arming this action
    // replaces: the replica re-armed or cancelled the timer, so it must never see that expiry.
    this.#firedTimeouts.delete(t.timer);
    if (t.type === 'set') {
      const fire = () => {
        this.#timers.delete(t.timer);
        const event: Event = { type: 'timeout', timer: t.timer, now: this.#o.clock() };
        this.#firedTimeouts.set(t.timer, event);
        this.enqueue(event);
      };
      // An expiry is queued one turn of the event loop late, after the I/O that is already waiting.
      // After this process stalled (a long garbage collection, a slow step on a loaded machine), Node
      // runs due timers before it reads the sockets, so the expiry would otherwise be queued ahead of
      // the COMMITs that arrived meanwhile and make it stale, and the replica would leave a view that
      // was making progress (issue 9: view changes with no fault). A timer is this replica's own
      // choice (Castro & Liskov, TOCS 2002 §4.5.2 only needs it to expire eventually), so a late
      // expiry costs nothing in safety.
      const handle = this.#o.timers.set(() => {
        this.#timers.set(t.timer, this.#o.timers.set(fire, 0));
      }, t.afterMs);
      this.#timers.set(t.timer, handle);
    }
  }

  /**
   * Whether a queued timeout is still the live expiry of its timer. On a loaded node a timer can fire
   * while the events that make the replica re-arm it (a commit: progress) are already queued ahead of
   * it; stepping the stale expiry anyway made backups leave a view that was making progress, and under
   * overload that repeated view after view (issue 9, ADR 0091).
   */
  #isLiveTimeout(event: Event): boolean {
    if (event.type !== 'timeout') return true;
    if (this.#firedTimeouts.get(event.timer) !== event) {
      this.#stats.staleTimeoutsDropped++;
      return false;
    }
    this.#firedTimeouts.delete(event.timer);
    return true;
  }

  #startTransfer(request: StateTransferRequest): void {
    if (this.#transferring) return;
    this.#transferring = true;
    this.#o.log.info({ height: request.height }, 'state transfer to stable checkpoint');
    this.#o.stateTransfer
      .transfer(request)
      .catch((err) => {
        // Not fatal: the replica asks again when it next sees a stable checkpoint it is missing.
        this.#o.log.warn({ err: String(err), height: request.height }, 'state transfer failed');
      })
      .finally(() => {
        this.#transferring = false;
      });
  }
}
