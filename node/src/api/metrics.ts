// Prometheus metrics (GET /metrics, text format 0.0.4 via prom-client). A registry per API instance,
// not prom-client's global one, so several nodes (tests, benchmarks) can live in one process.
// Commit latency is measured from a transaction's admission through this API to the applied block that
// carries it: what a client of this node experiences.
import type { ReplicaStats } from '@vigil/consensus/pbft';
import { toHex } from '@vigil/consensus/wire';
import type { ProtocolCounters } from '@vigil/p2p';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SyncStats } from '../validator/block-sync.ts';
import type { AppliedBlock, TimedStep, Validator } from '../validator/validator.ts';

/** Admission times kept at most this long (a transaction that never commits is forgotten). */
/** Replica.stats() counters exported as vigil_pbft_events_total{event}. */
const PBFT_EVENTS = [
  'viewChangesStarted',
  'suspicionsSent',
  'newViewsInstalled',
  'newViewsServed',
  'laterViewsJoined',
  'stableCheckpoints',
  'stateTransfersRequested',
  'fetchesSent',
  'blocksProposed',
  'blocksCommitted',
] as const satisfies readonly (keyof ReplicaStats)[];

const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 200_000;

export class ApiMetrics {
  readonly registry = new Registry();
  readonly commitLatency: Histogram;
  readonly txAdmitted: Counter;
  readonly txRejected: Counter<'code'>;
  readonly txCommitted: Counter<'status' | 'code'>;
  readonly viewChanges: Counter;
  readonly httpLatency: Histogram<'method' | 'route' | 'status'>;
  readonly accessRecords: Counter<'result'>;
  readonly accessDenied: Counter<'code'>;
  readonly #admitted = new Map<string, number>();
  #lastView: number;
  readonly stepDuration: Record<TimedStep, Histogram>;
  /** Wall-clock seconds of each phase of applying a committed block (executor ApplyPhases). */
  readonly applyPhase: Histogram<'phase'>;
  readonly #onBlock: (b: AppliedBlock) => void;
  readonly #onTiming: (step: TimedStep, ms: number) => void;
  readonly #validator: Validator;

  constructor(validator: Validator, opts: { defaultMetrics?: boolean } = {}) {
    this.#validator = validator;
    const registers = [this.registry];
    this.commitLatency = new Histogram({
      name: 'vigil_commit_latency_seconds',
      help: 'Time from admission of a transaction by this API to the applied block carrying it',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.txAdmitted = new Counter({
      name: 'vigil_tx_admitted_total',
      help: 'Transactions admitted to the mempool through this API',
      registers,
    });
    this.txRejected = new Counter({
      name: 'vigil_tx_rejected_total',
      help: 'Transactions refused at admission through this API, by problem code',
      labelNames: ['code'],
      registers,
    });
    this.txCommitted = new Counter({
      name: 'vigil_tx_executed_total',
      help: 'Transactions in applied blocks, by receipt status and rejection code',
      labelNames: ['status', 'code'],
      registers,
    });
    this.viewChanges = new Counter({
      name: 'vigil_view_changes_total',
      help: 'PBFT view increases observed by this node since start',
      registers,
    });
    this.httpLatency = new Histogram({
      name: 'vigil_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.accessRecords = new Counter({
      name: 'vigil_access_records_total',
      help: 'recordAccess transactions this node submitted for reads it served',
      labelNames: ['result'],
      registers,
    });
    this.accessDenied = new Counter({
      name: 'vigil_access_denied_total',
      help: 'Authenticated patient-data reads refused by the access rule, by deny code (audited in the node log)',
      labelNames: ['code'],
      registers,
    });
    new Gauge({
      name: 'vigil_height',
      help: 'Applied block height',
      registers,
      collect() {
        this.set(validator.store.requireHead().height);
      },
    });
    new Gauge({
      name: 'vigil_view',
      help: 'Current PBFT view',
      registers,
      collect: () => {
        this.#observeView();
      },
    }).set(validator.replica.view);
    new Gauge({
      name: 'vigil_mempool_transactions',
      help: 'Transactions in the mempool',
      registers,
      collect() {
        this.set(validator.mempool.size);
      },
    });
    new Gauge({
      name: 'vigil_mempool_bytes',
      help: 'Bytes in the mempool',
      registers,
      collect() {
        this.set(validator.mempool.bytes);
      },
    });
    new Gauge({
      name: 'vigil_peers_connected',
      help: 'Connected p2p peers',
      registers,
      collect() {
        this.set(validator.network.peers().filter((p) => p.connected).length);
      },
    });
    // Traffic, mirrored from the counters p2p and the validator keep (they only grow, so they are
    // Prometheus counters; collect() copies the current totals at each scrape).
    const p2pMetrics = () => validator.network.metrics();
    const perProtocol = (name: string, help: string, pick: (c: ProtocolCounters) => [number, number]) =>
      new Counter({
        name,
        help,
        labelNames: ['protocol', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const [protocol, c] of Object.entries(p2pMetrics().protocols)) {
            const [inbound, outbound] = pick(c);
            this.inc({ protocol, direction: 'in' }, inbound);
            this.inc({ protocol, direction: 'out' }, outbound);
          }
        },
      });
    perProtocol(
      'vigil_p2p_messages_total',
      'Messages sent and received over p2p, by protocol (consensus, txgossip, sync, status, txfetch) and direction',
      (c) => [c.messagesIn, c.messagesOut],
    );
    perProtocol(
      'vigil_p2p_bytes_total',
      'Payload bytes sent and received over p2p, by protocol and direction',
      (c) => [c.bytesIn, c.bytesOut],
    );
    new Counter({
      name: 'vigil_p2p_consensus_messages_total',
      help: 'Consensus messages sent, by kind (PBFT type, or prePrepareCompact: ADR 0129)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, c] of Object.entries(p2pMetrics().consensusOut)) this.inc({ kind }, c.messages);
      },
    });
    new Counter({
      name: 'vigil_p2p_consensus_bytes_total',
      help: 'Bytes of the consensus messages sent, by kind (each with its 4-byte length and kind byte)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, c] of Object.entries(p2pMetrics().consensusOut)) this.inc({ kind }, c.bytes);
      },
    });
    new Counter({
      name: 'vigil_p2p_compact_total',
      help: 'Compact PRE-PREPAREs (ADR 0129): sent, sentFull, received, rebuilt, fetches, fetchedTxs, rebuiltAfterFetch, fullFetches, fullFetched, abandoned, duplicates, pendingOverflow, served, servedUnknown',
      labelNames: ['event'],
      registers,
      collect() {
        this.reset();
        const { refused: _refused, ...events } = p2pMetrics().compact;
        for (const [event, n] of Object.entries(events)) this.inc({ event }, n);
      },
    });
    new Counter({
      name: 'vigil_p2p_compact_refused_total',
      help: 'Hostile or unusable compact PRE-PREPARE and txfetch input, by error code (ADR 0129)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(p2pMetrics().compact.refused)) this.inc({ code }, n);
      },
    });
    new Counter({
      name: 'vigil_p2p_dropped_total',
      help: 'Messages p2p dropped, by reason (full queues, rate limits, fault layer, stale consensus...)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(p2pMetrics().dropped)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'vigil_tx_gossip_received_total',
      help: 'Transactions received from peers by gossip, by admission result (admitted or the rejection code)',
      labelNames: ['result'],
      registers,
      collect() {
        const g = validator.gossip;
        this.reset();
        this.inc({ result: 'admitted' }, g.admitted);
        for (const [code, n] of Object.entries(g.refused)) this.inc({ result: code }, n);
      },
    });
    // Block sync's own account of catch-up (BlockSync.stats): the rate is transactions / seconds.
    const syncCounter = (name: string, help: string, read: (s: SyncStats) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(validator.syncStats()));
        },
      });
    syncCounter('vigil_sync_blocks_total', 'Blocks applied by block sync (catch-up)', (s) => s.blocks);
    syncCounter(
      'vigil_sync_transactions_total',
      'Transactions in the blocks applied by block sync (catch-up)',
      (s) => s.transactions,
    );
    syncCounter(
      'vigil_sync_seconds_total',
      'Wall time of the block-sync runs that applied blocks: peer statuses, fetches and application',
      (s) => s.seconds,
    );
    syncCounter(
      'vigil_sync_apply_seconds_total',
      'Of vigil_sync_seconds_total, the time spent applying the fetched blocks',
      (s) => s.applySeconds,
    );
    // ADR 0133: certified ranges applied from peers' effects records instead of executed.
    new Counter({
      name: 'vigil_sync_effects_blocks_total',
      help: "Blocks block sync applied from peers' effects records instead of executing them (ADR 0133)",
      registers,
      collect() {
        this.reset();
        this.inc(validator.effectsStats().blocks);
      },
    });
    new Counter({
      name: 'vigil_sync_effects_refused_total',
      help: 'Certified ranges executed instead of applied from effects records, by reason (ADR 0133)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(validator.effectsStats().skipped))
          this.inc({ reason }, n ?? 0);
      },
    });
    new Counter({
      name: 'vigil_effects_writes_lost_total',
      help: 'Effects records whose write to their own store failed (ADR 0135): served as absent, so peers execute those blocks',
      registers,
      collect() {
        this.reset();
        this.inc(validator.store.effectsWritesLost);
      },
    });
    // The PBFT core's own account (Replica.stats): how views change, and what it refused and why.
    new Counter({
      name: 'vigil_pbft_events_total',
      help: 'PBFT events of this replica since start, by event: viewChangesStarted, suspicionsSent (ADR 0112), newViewsInstalled, newViewsServed, laterViewsJoined (ADR 0134), stableCheckpoints, stateTransfersRequested, fetchesSent, blocksProposed, blocksCommitted',
      labelNames: ['event'],
      registers,
      collect() {
        const r = validator.replica.stats();
        this.reset();
        for (const event of PBFT_EVENTS) this.inc({ event }, r[event]);
      },
    });
    new Counter({
      name: 'vigil_pbft_dropped_total',
      help: 'Consensus messages the PBFT core refused, by reason (STALE_VIEW, BAD_SIGNATURE, EQUIVOCATION, ...: docs/consensus.md)',
      labelNames: ['reason'],
      registers,
      collect() {
        const dropped = validator.replica.stats().dropped;
        this.reset();
        for (const [reason, n] of Object.entries(dropped)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'vigil_tx_reoffered_total',
      help: 'Pending transactions offered to the peers again because they were not committed in time',
      registers,
      collect() {
        this.reset();
        this.inc(validator.gossip.reoffered);
      },
    });
    // Buckets from 1 ms to 5 s: a step near the request timer (1 s by default) is what starts view
    // changes on a network with no fault.
    const stepBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];
    const stepHistogram = (name: string, help: string) =>
      new Histogram({ name, help, buckets: stepBuckets, registers });
    this.stepDuration = {
      blockApply: stepHistogram(
        'vigil_block_apply_seconds',
        'Applying one committed block: execution, state-tree update and its atomic fsynced write',
      ),
      rangeApply: stepHistogram(
        'vigil_range_apply_seconds',
        'Applying a range of certified blocks during block sync: execution, one state-tree update and one atomic fsynced write (ADR 0115)',
      ),
      blockWrite: stepHistogram(
        'vigil_block_write_seconds',
        "One block's (or one synced range's) atomic fsynced LevelDB batch write alone",
      ),
      consensusPersist: stepHistogram(
        'vigil_consensus_persist_seconds',
        'Fsync of PBFT records that must be durable before the messages that depend on them are sent',
      ),
    };
    this.applyPhase = new Histogram({
      name: 'vigil_block_apply_phase_seconds',
      help: 'Applying one committed block, by phase: wait (behind the blocks before it), check, prepare (decoding, signatures, committed ids), execute, tree (state-tree update, batch built), write (fsynced batch)',
      labelNames: ['phase'],
      buckets: stepBuckets,
      registers,
    });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'vigil_process_' });
    this.#lastView = validator.replica.view;
    this.#onBlock = (b) => this.#block(b);
    validator.events.on('block', this.#onBlock);
    this.#onTiming = (step, ms) => this.stepDuration[step]?.observe(ms / 1000);
    validator.events.on('timing', this.#onTiming);
  }

  #observeView(): void {
    const v = this.#validator.replica.view;
    if (v > this.#lastView) this.viewChanges.inc(v - this.#lastView);
    this.#lastView = Math.max(this.#lastView, v);
    // the view gauge is registered above; set it through the registry's single metric
    (this.registry.getSingleMetric('vigil_view') as Gauge | undefined)?.set(v);
  }

  admitted(idHex: string, now: number): void {
    this.txAdmitted.inc();
    if (this.#admitted.size >= MAX_PENDING) this.#expire(now);
    if (this.#admitted.size < MAX_PENDING) this.#admitted.set(idHex, now);
  }

  #expire(now: number): void {
    for (const [id, at] of this.#admitted) {
      if (now - at < PENDING_TTL_MS) break;
      this.#admitted.delete(id);
    }
  }

  #block(b: AppliedBlock): void {
    const now = Date.now();
    this.#observeView();
    const phases = b.result.phases;
    if (phases !== undefined)
      for (const [phase, ms] of Object.entries(phases)) this.applyPhase.observe({ phase }, ms / 1000);
    for (const r of b.result.receipts) {
      this.txCommitted.inc({ status: r.status, code: r.status === 'rejected' ? r.code : '' });
      if (r.txId === null || this.#admitted.size === 0) continue;
      const id = toHex(r.txId);
      const at = this.#admitted.get(id);
      if (at === undefined) continue;
      this.#admitted.delete(id);
      this.commitLatency.observe((now - at) / 1000);
    }
  }

  close(): void {
    this.#validator.events.off('block', this.#onBlock);
    this.#validator.events.off('timing', this.#onTiming);
  }
}
