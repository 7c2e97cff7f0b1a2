// Real benchmarks: n validator processes over loopback, fed by the load generator. One network serves a
// whole sequence (starting n processes costs ~10-20 s here): a sweep of increasing offered load to the
// knee and repeats just below it, then commits resuming after the primary is killed, then the killed
// node catching up after a restart. Wall-clock measurements; nothing here asserts on timing.
import {
  formatSlowest,
  majorGcs,
  type StepName,
  type StepTimings,
  parseCounter,
  scrapeMetrics,
  stepTimings,
  type TrafficDelta,
  trafficDelta,
} from './step-timings.ts';
import type { LoadResult } from '@vigil/sensor-client/load/runner.ts';
import { subscribeBlocks } from '@vigil/sensor-client/load/runner.ts';
import { BenchError } from '../errors.ts';
import {
  DEFAULT_KNEE,
  findKnee,
  type Knee,
  type KneeCriteria,
  type LoadPoint,
  nextOfferedLoad,
  type Spread,
  spread,
} from '../stats.ts';
import { atPlannedStart, BenchNetwork, type LinkFaults } from './bench-network.ts';
import type { SettleResult } from './settle.ts';
import { type ProcUsage, sampleProc, usageBetween } from './proc.ts';

export interface RealConfig {
  n: number;
  /** The chain's state-root interval k (ADR 0117); absent in records before 2026-12-05 14:10 (k = 1). */
  stateRootInterval?: number;
  faults?: LinkFaults;
  /** Label of the network condition ("loopback", "latency 50 ms", ...). */
  condition: string;
  devices: number;
  batchSize: number;
  /** Knee search: first offered load, upper cap, bisection resolution, seconds per point. */
  startRate: number;
  maxRate: number;
  resolution: number;
  maxPoints: number;
  pointS: number;
  /**
   * Runs of each knee-search point (each from an idle network). The point is the run with the median
   * committed rate, which also decides whether it kept up; `runs` holds min/median/max of all.
   */
  pointRepeats: number;
  warmupS: number;
  drainS: number;
  /**
   * Repeats just below the knee (at belowKneeFraction x knee), each sustainedS long; also how many
   * times the primary is killed and the killed node restarted to catch up.
   */
  repeats: number;
  sustainedS: number;
  belowKneeFraction: number;
  /** Run the view-change and catch-up measurements on this network. */
  viewChange: boolean;
  sync: boolean;
  /** Offered load during the view-change and catch-up measurements. */
  faultRate: number;
  syncGapS: number;
  signWorkers: number;
  seed: number;
  /**
   * When a point keeps up (stats.ts KneeCriteria), stored with the plan so a record says which
   * criteria placed its knee; absent in records before 2026-12-05 23:50 UTC, which used DEFAULT_KNEE.
   */
  knee?: KneeCriteria;
}

export interface RealLoadPoint extends LoadPoint {
  p50LatencyMs: number;
  p90LatencyMs: number;
  submittedTxPerSec: number;
  rejected: Record<string, number>;
  eventReconnects: number;
  /** Per running validator: CPU (cores busy) over the measured run, RSS and peak RSS (MiB). */
  validators: ({ index: number } & ProcUsage)[];
  /**
   * Each running validator's view and height right after the point (absent before 2026-12-04): a
   * validator alone in a later view is out of the quorums until the others change view too, and the
   * network then commits only when all of the remaining 2f + 1 keep up.
   */
  viewsAfter?: { index: number; view: number | null; height: number | null }[];
  /**
   * The validators' slow steps during the point, from their step histograms (absent before
   * 2026-12-04 20:40): applying a block, writing it, fsyncing consensus records. A view change with no
   * fault needs a replica to go a request timeout (1 s) without a commit.
   */
  steps?: StepTimings;
  /** Major garbage collections on the validators during the point: how many, how many over 1 s. */
  majorGc?: { count: number; over1s: number };
  /**
   * What the validators sent and received during the point, all together (absent before 2026-12-05):
   * gossip copies and their admission outcomes, re-offers, messages and bytes sent per protocol.
   */
  traffic?: TrafficDelta;
  /** Raw latency samples (ms), intended send -> commit event. */
  rawLatencyMs: number[];
  dispatchLagP99Ms: number;
  /** A repeated knee-search point: spreads over all its runs and the runs other than this median one. */
  runs?: {
    committedTxPerSec: Spread;
    p50LatencyMs: Spread;
    p99LatencyMs: Spread;
    others: RealLoadPoint[];
  };
  /**
   * How the network was brought to idle before this point (backlog, resends, whether it emptied).
   * Absent in records written before the bench settled between points (2026-12-04).
   */
  settle?: SettleResult;
}

export interface ViewChangeResult {
  killedPrimary: number;
  offeredTxPerSec: number;
  /** SIGKILL -> first block (on a survivor) holding a transaction first sent after the kill. */
  resumeMs: number | null;
  /** SIGKILL -> first block committed on a survivor at all (may be an in-flight block of the old view). */
  firstBlockAfterKillMs: number | null;
  viewAfter: number | null;
  viewChangeTimeoutMs: number;
  /** A survivor's (view, height) polled every ~100 ms, ms relative to the kill: shows a cascade. */
  timeline: { atMs: number; view: number; height: number }[];
  /** How the network was brought to idle before the run (absent in records before 2026-12-04). */
  settle?: SettleResult;
}

export interface SyncResult {
  node: number;
  gapBlocks: number;
  gapTxs: number;
  /** Restart (process spawn) -> caught up to the height the others had at restart. */
  fromRestartMs: number | null;
  /** First height progress of the restarted node -> caught up (excludes process start-up). Polled every
   *  50 ms: a node that applies the gap in a few certified ranges (ADR 0115) shows its first progress
   *  late, so this is not the rate's basis. */
  fromFirstProgressMs: number | null;
  /**
   * The restarted node's own account of its catch-up (vigil_sync_* in /metrics, BlockSync.stats): wall
   * time of the block-sync runs that applied blocks (peer statuses, fetches, application) and what they
   * applied. Absent in records before 2026-12-05 08:50.
   */
  nodeSync?: {
    seconds: number;
    applySeconds?: number;
    blocks: number;
    transactions: number;
    /**
     * Of `blocks`, those applied from peers' effects records instead of executed (ADR 0133), and the
     * certified ranges executed instead, by reason. Absent in records before 2026-12-06 07:10.
     */
    effectsBlocks?: number;
    effectsRefused?: Record<string, number>;
  } | null;
  /** nodeSync's blocks and transactions per second (before 2026-12-05 08:50: gap / fromFirstProgressMs). */
  blocksPerSec: number | null;
  txPerSec: number | null;
}

export interface RealResult {
  n: number;
  condition: string;
  faults: LinkFaults | null;
  config: RealConfig;
  startupMs: number;
  /** The median of the view-change runs by resumeMs (the only one when repeats = 1). */
  viewChange: ViewChangeResult | null;
  /** The median of the catch-up runs by txPerSec. */
  sync: SyncResult | null;
  /** Every view-change and catch-up run with their spreads (absent in records before 2026-12-04). */
  faultRuns?: {
    viewChange: ViewChangeResult[];
    resumeMs: Spread;
    sync: SyncResult[];
    syncTxPerSec: Spread;
  };
  sweep: RealLoadPoint[];
  knee: Knee;
  belowKnee: {
    offeredTxPerSec: number;
    repeats: RealLoadPoint[];
    throughputTxPerSec: Spread;
    p50LatencyMs: Spread;
    p99LatencyMs: Spread;
  } | null;
  errors: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function toPoint(
  r: LoadResult,
  validators: RealLoadPoint['validators'],
  settle: SettleResult,
): RealLoadPoint {
  const nan = (x: number | null) => (x === null ? Number.NaN : x);
  return {
    offeredTxPerSec: r.offered.ratePerSec,
    committedTxPerSec: r.committed.ratePerSec,
    submittedTxPerSec: r.submitted.ratePerSec,
    p50LatencyMs: nan(r.latencyMs.p50),
    p90LatencyMs: nan(r.latencyMs.p90),
    p99LatencyMs: nan(r.latencyMs.p99),
    notCommitted: r.committed.notCommittedAfterDrain,
    measured: r.offered.transactions,
    rejected: r.submitted.rejected,
    eventReconnects: r.eventReconnects,
    validators,
    rawLatencyMs: r.rawLatencyMs.map((x) => Math.round(x * 100) / 100),
    dispatchLagP99Ms: nan(r.dispatchLagMs.p99),
    settle,
  };
}

/** The element with the median key (the lower middle of an even count); undefined when empty. */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T | undefined {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1];
}

/** A repeated load point: its median run by committed rate, with the spreads of all runs. */
export function medianRun(runs: readonly RealLoadPoint[]): RealLoadPoint {
  const median = medianBy(runs, (r) => (Number.isFinite(r.committedTxPerSec) ? r.committedTxPerSec : -1));
  if (median === undefined) throw new RangeError('medianRun of no runs');
  if (runs.length === 1) return median;
  return {
    ...median,
    runs: {
      committedTxPerSec: spread(runs.map((r) => r.committedTxPerSec)),
      p50LatencyMs: spread(runs.map((r) => r.p50LatencyMs)),
      p99LatencyMs: spread(runs.map((r) => r.p99LatencyMs)),
      others: runs.filter((r) => r !== median),
    },
  };
}

/** The log's note on views after a point: empty unless the validators disagree on the view. */
function viewsNote(p: RealLoadPoint): string {
  const views = p.viewsAfter?.map((v) => v.view) ?? [];
  const slow =
    (p.steps ? slowStepsNote(p.steps) : '') +
    (p.majorGc && p.majorGc.over1s > 0 ? `; major GCs over 1 s: ${p.majorGc.over1s}` : '');
  return (new Set(views).size > 1 ? `; views after: ${views.map((v) => v ?? '?').join(' ')}` : '') + slow;
}

/** "; slow steps: blockApply 3 > 1 s (slowest <= 2 s)", or empty when no step exceeded 0.25 s. */
export function slowStepsNote(steps: StepTimings): string {
  const parts = (Object.keys(steps) as StepName[])
    .filter((k) => steps[k].over250ms > 0)
    .map(
      (k) =>
        `${k} ${steps[k].over250ms} > 0.25 s, ${steps[k].over1s} > 1 s (slowest ${formatSlowest(steps[k].slowestAtMostS)})`,
    );
  return parts.length > 0 ? `; slow steps: ${parts.join(', ')}` : '';
}

/** The log's note on a point's start: empty when the network was idle and nothing needed resending. */
function settleNote(s: SettleResult | undefined): string {
  if (s === undefined) return '';
  const before = s.backlogBefore.reduce((a, x) => a + x, 0);
  if (before === 0 && s.resent === 0) return '';
  const after = s.backlogAfter.reduce((a, x) => a + x, 0);
  return `; started after ${(s.settleMs / 1000).toFixed(1)} s settling (backlog ${before} -> ${after}, ${s.resent} resent${s.idle ? '' : ', NOT idle'})`;
}

/**
 * Longest wait for the mempools to empty before a point: a point that starts on a backlog measures the
 * backlog too. Past it the point runs anyway and its `settle.idle` is false.
 */
const SETTLE_BOUND_MS = 60_000;

/**
 * One open-loop load point, started from an idle network (BenchNetwork.settle), with CPU and memory of
 * every running validator over the same window.
 */
export async function runPoint(
  b: BenchNetwork,
  rate: number,
  cfg: RealConfig,
  durationS: number,
  targets?: number[],
): Promise<RealLoadPoint> {
  const settled = await b.settle(SETTLE_BOUND_MS);
  const prepared = await b.prepareLoad(
    {
      rate,
      durationS,
      warmupS: cfg.warmupS,
      drainS: cfg.drainS,
      batchSize: cfg.batchSize,
      ...(targets ? { targets } : {}),
    },
    cfg.signWorkers,
  );
  const running = b.running();
  const metricsBefore = await Promise.all(running.map((i) => scrapeMetrics(b.nodes[i]!.apiUrl)));
  // CPU and storage from the planned start (after the idle wait that follows pre-signing) to the end
  // of the drain.
  const {
    started: before,
    result: r,
    wallMs: wall,
  } = await atPlannedStart(
    prepared.startMs,
    () => running.map((i) => sampleProc(b.nodes[i]!.pid ?? -1)),
    () => b.runLoad(prepared),
  );
  const metricsAfter = await Promise.all(running.map((i) => scrapeMetrics(b.nodes[i]!.apiUrl)));
  const scrapes = metricsBefore.map((m, k) => ({ before: m, after: metricsAfter[k]! }));
  const steps = stepTimings(scrapes);
  const majorGc = majorGcs(scrapes);
  const traffic = trafficDelta(scrapes);
  const validators = running.flatMap((i, k) => {
    const a = before[k];
    const z = sampleProc(b.nodes[i]!.pid ?? -1);
    return a && z ? [{ index: i, ...usageBetween(a, z, wall) }] : [];
  });
  const statuses = await b.net.statuses();
  const viewsAfter = running.map((i) => ({
    index: i,
    view: statuses[i]?.view ?? null,
    height: statuses[i]?.height ?? null,
  }));
  return { ...toPoint(r, validators, settled), viewsAfter, steps, majorGc, traffic };
}

/** Blocks seen on one validator's event feed, with arrival times. */
class BlockLog {
  readonly blocks: { at: number; height: number; txIds: string[] }[] = [];
  readonly #ac = new AbortController();
  readonly #done: Promise<void>;
  constructor(url: string) {
    this.#done = subscribeBlocks(
      url,
      (height, txIds) => this.blocks.push({ at: performance.now(), height, txIds }),
      this.#ac.signal,
    ).catch(() => {});
  }
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#done;
  }
}

/**
 * The primary of the view most validators are in. Not the first status's: a validator restarted after
 * an earlier kill may still be in the old view (it follows by checkpoints), and believing it made the
 * 2nd and 3rd kill runs of a sweep kill a backup (commits "resumed" after 39-52 ms).
 */
export function groupPrimary(
  statuses: readonly ({ view: number; primary: number } | undefined)[],
): number | undefined {
  const votes = new Map<number, { count: number; primary: number }>();
  for (const s of statuses) {
    if (s === undefined) continue;
    const v = votes.get(s.view) ?? { count: 0, primary: s.primary };
    v.count++;
    votes.set(s.view, v);
  }
  let best: { view: number; count: number; primary: number } | undefined;
  for (const [view, v] of votes) {
    if (best === undefined || v.count > best.count || (v.count === best.count && view > best.view)) {
      best = { view, ...v };
    }
  }
  return best?.primary;
}

async function measureViewChange(
  b: BenchNetwork,
  cfg: RealConfig,
  timeoutMs: number,
): Promise<ViewChangeResult> {
  const settle = await b.settle(SETTLE_BOUND_MS);
  const st = await b.net.statuses();
  const primary = groupPrimary(st) ?? 0;
  const survivors = b.running().filter((i) => i !== primary);
  const watch = new BlockLog(b.urls([survivors[0]!])[0]!);
  const runS = 4 + Math.ceil(timeoutMs / 1000) * 3;
  const prepared = await b.prepareLoad(
    {
      rate: cfg.faultRate,
      durationS: runS,
      warmupS: 0,
      drainS: 5,
      batchSize: Math.min(cfg.batchSize, 10),
      targets: survivors,
    },
    cfg.signWorkers,
  );
  // Intended send time of each transaction relative to the run start (the schedule is the plan).
  const sendAt = new Map<string, number>();
  prepared.corpus.batches.forEach((batch, i) => {
    for (const id of batch.ids) sendAt.set(id, prepared.schedule[i]!.atMs);
  });
  const runStart = { t: 0 };
  const killAfterMs = 2_000;
  let killAt = Number.NaN;
  const killer = (async () => {
    while (runStart.t === 0) await sleep(10);
    await sleep(killAfterMs - (performance.now() - runStart.t));
    killAt = performance.now();
    await b.nodes[primary]!.signal('SIGKILL');
  })();
  const polled: { at: number; view: number; height: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const s = await b.nodes[survivors[0]!]!.status(1_000);
      if (s !== undefined) polled.push({ at: performance.now(), view: s.view, height: s.height });
      await sleep(100);
    }
  })();
  const wait = prepared.startMs - Date.now();
  if (wait > 0) await sleep(wait);
  runStart.t = performance.now();
  await b.runLoad({ ...prepared, startMs: 0 });
  await killer;
  polling = false;
  await poller;
  await watch.close();
  const killRel = killAt - runStart.t;
  const after = watch.blocks.filter((x) => x.at > killAt);
  const firstAny = after[0];
  const resumed = after.find((x) => x.txIds.some((id) => (sendAt.get(id) ?? -1) > killRel));
  const view = (await b.nodes[survivors[0]!]!.status())?.view ?? null;
  return {
    killedPrimary: primary,
    offeredTxPerSec: cfg.faultRate,
    resumeMs: resumed ? resumed.at - killAt : null,
    firstBlockAfterKillMs: firstAny ? firstAny.at - killAt : null,
    viewAfter: view,
    viewChangeTimeoutMs: timeoutMs,
    // Only the changes of view (and the samples around the kill), to keep the record small.
    timeline: polled
      .filter((p, i) => i === 0 || p.view !== polled[i - 1]!.view)
      .map((p) => ({ atMs: Math.round(p.at - killAt), view: p.view, height: p.height })),
    settle,
  };
}

/**
 * Transactions in the committed blocks (from, to] of a validator's chain (`GET /v1/blocks`, pages of up
 * to 100). The gap a restarted node has to catch up also holds the blocks committed after it was killed
 * and before the gap run began (the rest of the view-change run), which no event feed of that run saw.
 */
export async function txsInHeights(
  base: string,
  from: number,
  to: number,
  fetchFn: typeof fetch = fetch,
): Promise<number> {
  let txs = 0;
  let next: number | null = from + 1;
  while (next !== null && next <= to) {
    const res = await fetchFn(`${base}/v1/blocks?from=${next}&limit=${Math.min(100, to - next + 1)}`);
    if (!res.ok) throw new BenchError('SYNC_GAP', `blocks from ${next}: HTTP ${res.status}`);
    const page = (await res.json()) as {
      blocks?: { height: number; txIds: unknown[] }[];
      next?: number | null;
    };
    const blocks = page.blocks ?? [];
    if (blocks.length === 0) throw new BenchError('SYNC_GAP', `no block at ${next} (up to ${to} expected)`);
    for (const blk of blocks) if (blk.height <= to) txs += blk.txIds.length;
    next = page.next ?? null;
  }
  return txs;
}

export async function measureSync(b: BenchNetwork, node: number, cfg: RealConfig): Promise<SyncResult> {
  // The node is down (killed by the view-change measurement, or now): grow the chain without it.
  if (b.nodes[node]!.running) await b.nodes[node]!.signal('SIGKILL');
  const survivor = b.urls([b.running()[0]!])[0]!;
  await runPoint(b, cfg.faultRate, cfg, cfg.syncGapS);
  const target = await b.height();
  const restartAt = performance.now();
  b.nodes[node]!.start(b.env);
  let startHeight: number | undefined;
  let firstProgressAt: number | undefined;
  let doneAt: number | undefined;
  const deadline = restartAt + 120_000;
  while (performance.now() < deadline) {
    const s = await b.nodes[node]!.status(1_000);
    if (s !== undefined) {
      startHeight ??= s.height;
      if (firstProgressAt === undefined && s.height > startHeight) firstProgressAt = performance.now();
      if (s.height >= target) {
        doneAt = performance.now();
        break;
      }
    }
    await sleep(50);
  }
  const from = startHeight ?? 0;
  const gapBlocks = Math.max(0, target - from);
  // From the chain itself: before 2026-12-05 23:50 UTC only the gap run's blocks were counted (from its event
  // feed), not those committed between the kill and that run, and gapTxs read about half the gap.
  // Counted after the catch-up, so the queries cannot slow it; NaN (null in the record) when they fail,
  // which loses a count, not the run.
  const gapTxs = await txsInHeights(survivor, from, target).catch(() => Number.NaN);
  const span = doneAt !== undefined && firstProgressAt !== undefined ? doneAt - firstProgressAt : undefined;
  // The node's counters start at zero with the restarted process: everything in them is this catch-up.
  let nodeSync: SyncResult['nodeSync'] = null;
  if (doneAt !== undefined) {
    try {
      const text = await scrapeMetrics(b.nodes[node]!.apiUrl);
      const read = (name: string) => parseCounter(text, name).get('') ?? 0;
      nodeSync = {
        seconds: read('vigil_sync_seconds_total'),
        applySeconds: read('vigil_sync_apply_seconds_total'),
        blocks: read('vigil_sync_blocks_total'),
        transactions: read('vigil_sync_transactions_total'),
        effectsBlocks: read('vigil_sync_effects_blocks_total'),
        effectsRefused: Object.fromEntries(
          [...parseCounter(text, 'vigil_sync_effects_refused_total')].map(([labels, n]) => [
            /reason="([^"]*)"/.exec(labels)?.[1] ?? labels,
            n,
          ]),
        ),
      };
    } catch {
      nodeSync = null;
    }
  }
  const rated = nodeSync !== null && nodeSync.seconds > 0 ? nodeSync : undefined;
  return {
    node,
    gapBlocks,
    gapTxs,
    fromRestartMs: doneAt !== undefined ? doneAt - restartAt : null,
    fromFirstProgressMs: span ?? null,
    nodeSync,
    blocksPerSec: rated ? rated.blocks / rated.seconds : null,
    txPerSec: rated ? rated.transactions / rated.seconds : null,
  };
}

/**
 * Knee search, repeats below the knee, then the fault runs, on one network. `progress` gets the result so
 * far after every measurement (the suite writes it to disk, so a stopped run keeps what it measured).
 */
export async function runRealSuite(
  cfg: RealConfig,
  log: (s: string) => void = () => {},
  progress: (partial: RealResult) => void = () => {},
): Promise<RealResult> {
  const timeoutMs = 1_000;
  const criteria = cfg.knee ?? DEFAULT_KNEE;
  const errors: string[] = [];
  const b = await BenchNetwork.start({
    n: cfg.n,
    seed: cfg.seed,
    viewChangeTimeoutMs: timeoutMs,
    ...(cfg.stateRootInterval !== undefined ? { stateRootInterval: cfg.stateRootInterval } : {}),
    ...(cfg.faults ? { faults: cfg.faults } : {}),
  });
  log(
    `real n=${cfg.n} ${cfg.condition}: ${cfg.n} validators up and meshed in ${(b.startupMs / 1000).toFixed(1)} s`,
  );
  const result: RealResult = {
    n: cfg.n,
    condition: cfg.condition,
    faults: cfg.faults ?? null,
    config: cfg,
    startupMs: b.startupMs,
    viewChange: null,
    sync: null,
    sweep: [],
    knee: { kneeTxPerSec: undefined, saturatedAtTxPerSec: undefined, maxCommittedTxPerSec: 0 },
    belowKnee: null,
    errors,
  };
  try {
    await b.enrolDevices(cfg.devices);
    for (let i = 0; i < cfg.maxPoints; i++) {
      const rate = nextOfferedLoad(result.sweep, cfg.startRate, cfg.resolution, cfg.maxRate, criteria);
      if (rate === undefined) break;
      const runs: RealLoadPoint[] = [];
      for (let k = 0; k < Math.max(1, cfg.pointRepeats); k++) {
        const p = await runPoint(b, rate, cfg, cfg.pointS);
        runs.push(p);
        log(
          `real n=${cfg.n} ${cfg.condition}: offered ${rate} tx/s${cfg.pointRepeats > 1 ? ` (run ${k + 1})` : ''} -> committed ${p.committedTxPerSec.toFixed(0)} tx/s, p50 ${p.p50LatencyMs.toFixed(0)} ms, p99 ${p.p99LatencyMs.toFixed(0)} ms, lost ${p.notCommitted}/${p.measured}${viewsNote(p)}${settleNote(p.settle)}`,
        );
      }
      result.sweep.push(medianRun(runs));
      progress(result);
    }
    result.knee = findKnee(result.sweep, criteria);
    const knee = result.knee.kneeTxPerSec;
    if (knee !== undefined && cfg.repeats > 0) {
      const rate = Math.max(1, Math.round(knee * cfg.belowKneeFraction));
      const repeats: RealLoadPoint[] = [];
      for (let k = 0; k < cfg.repeats; k++) {
        repeats.push(await runPoint(b, rate, cfg, cfg.sustainedS));
        log(
          `real n=${cfg.n}: below the knee (${rate} tx/s) repeat ${k + 1}: ${repeats[k]!.committedTxPerSec.toFixed(0)} tx/s, p99 ${repeats[k]!.p99LatencyMs.toFixed(0)} ms${viewsNote(repeats[k]!)}${settleNote(repeats[k]!.settle)}`,
        );
      }
      result.belowKnee = {
        offeredTxPerSec: rate,
        repeats,
        throughputTxPerSec: spread(repeats.map((r) => r.committedTxPerSec)),
        p50LatencyMs: spread(repeats.map((r) => r.p50LatencyMs)),
        p99LatencyMs: spread(repeats.map((r) => r.p99LatencyMs)),
      };
    }
    // Faults last: a killed and restarted primary may leave the network in a later view, and the
    // throughput above should describe a healthy network.
    progress(result);
    const vcRuns: ViewChangeResult[] = [];
    const syncRuns: SyncResult[] = [];
    for (let k = 0; k < Math.max(1, cfg.repeats); k++) {
      let killed: number | undefined;
      if (cfg.viewChange) {
        try {
          const vc = await measureViewChange(b, cfg, timeoutMs);
          vcRuns.push(vc);
          killed = vc.killedPrimary;
          log(
            `real n=${cfg.n}: commits resumed ${vc.resumeMs?.toFixed(0) ?? 'never'} ms after killing the primary (validator ${vc.killedPrimary}${cfg.repeats > 1 ? `, run ${k + 1}` : ''})${settleNote(vc.settle)}`,
          );
        } catch (e) {
          errors.push(`viewChange: ${(e as Error).message}`);
        }
      }
      if (cfg.sync) {
        try {
          // The primary just killed catches up; without a view-change run, the last validator.
          const sy = await measureSync(b, killed ?? cfg.n - 1, cfg);
          syncRuns.push(sy);
          log(
            `real n=${cfg.n}: restarted node caught up ${sy.gapBlocks} blocks / ${sy.gapTxs} txs at ${sy.txPerSec?.toFixed(0) ?? '-'} tx/s`,
          );
        } catch (e) {
          errors.push(`sync: ${(e as Error).message}`);
          break; // a node that did not come back would make every later run measure n - 1 validators
        }
      } else if (killed !== undefined) {
        break; // nothing restarts the killed primary: a second run would kill a second validator
      }
      progress({
        ...result,
        faultRuns: { viewChange: vcRuns, resumeMs: spread([]), sync: syncRuns, syncTxPerSec: spread([]) },
      });
    }
    result.viewChange = medianBy(vcRuns, (v) => v.resumeMs ?? Number.POSITIVE_INFINITY) ?? null;
    result.sync = medianBy(syncRuns, (y) => y.txPerSec ?? Number.NEGATIVE_INFINITY) ?? null;
    result.faultRuns = {
      viewChange: vcRuns,
      // Over the runs in which commits resumed; the report counts the others separately.
      resumeMs: spread(vcRuns.map((v) => v.resumeMs ?? Number.NaN)),
      sync: syncRuns,
      syncTxPerSec: spread(syncRuns.map((y) => y.txPerSec ?? Number.NaN)),
    };
  } catch (e) {
    errors.push(e instanceof BenchError ? `${e.code}: ${e.message}` : String(e));
  } finally {
    await b.stop();
  }
  return result;
}
