// Simulated benchmarks: the deterministic PBFT simulator (consensus/sim) with this machine's measured
// ed25519 costs charged in virtual time (metered crypto) and a modelled LAN. Everything here is a pure
// function of (config, seed, measured costs), so a result can be re-derived exactly from its record.
//
// Method (docs/benchmarks.md "Simulated"):
// - capacity: all transactions are submitted within 1 ms (a saturating burst); throughput = committed /
//   (time from the first submission to the last settlement). The last settlement is max(commit latency)
//   after a submission at ~5 ms, so throughput = committed / max latency.
// - latency: a second run offers an open-loop load at half that capacity; p50/p99 of submission ->
//   settlement (f+1 correct replicas committed, the simulator's definition).
// - messages and bytes per committed block by PBFT message type, from the capacity run.
// - view change: the crash-primary scenario; time from a correct replica leaving view v to the first
//   commit in a later view.
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { buildScenario, type RunResult, runScenario, type ScenarioSpec } from '../../consensus/sim/index.ts';
import { maxFaulty } from '../../consensus/src/pbft/quorum.ts';
import { type Spread, percentile, spread } from './stats.ts';

export interface CryptoCalibration {
  signMs: number;
  verifyMs: number;
  samples: number;
  method: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * This machine's single-thread ed25519 sign and verify cost on node:crypto (OpenSSL), the library the
 * validators use (node/src/crypto/fast-verifier.ts). Measured once per suite run; the simulator charges
 * it per signature in virtual time. Wall time is read here, outside the simulator, which stays pure.
 */
export function calibrateCrypto(samples = 2_000): CryptoCalibration {
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.alloc(32, 7)]),
    format: 'der',
    type: 'pkcs8',
  });
  const pub = createPublicKey(key);
  const msgs = Array.from({ length: samples }, (_, i) =>
    Buffer.from(`vigil-bench-calibration-${i}`.padEnd(220, '.')),
  );
  for (let i = 0; i < 200; i++) cryptoVerify(null, msgs[i]!, pub, cryptoSign(null, msgs[i]!, key)); // warm-up
  let t = performance.now();
  const sigs = msgs.map((m) => cryptoSign(null, m, key));
  const signMs = (performance.now() - t) / samples;
  t = performance.now();
  let ok = 0;
  for (let i = 0; i < samples; i++) if (cryptoVerify(null, msgs[i]!, pub, sigs[i]!)) ok++;
  const verifyMs = (performance.now() - t) / samples;
  if (ok !== samples) throw new RangeError('calibration: a valid signature failed to verify');
  return { signMs, verifyMs, samples, method: 'node:crypto ed25519, one thread, 220-byte messages' };
}

export interface SimConfig {
  sizes: readonly number[];
  batches: readonly number[];
  /** Silent-replica counts as "0", "1" or "f", run at `faultBatch` for every n. */
  silent: readonly ('0' | '1' | 'f')[];
  faultBatch: number;
  repeats: number;
  /** Blocks' worth of transactions per capacity run (txs = batch x this, clamped to [minTxs, maxTxs]). */
  blocksPerRun: number;
  minTxs: number;
  maxTxs: number;
  viewChangeRepeats: number;
  seed: number;
}

export interface SimRun {
  seed: number;
  txsSubmitted: number;
  txsCommitted: number;
  commits: number;
  throughputTxPerSec: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
  meanTxsPerBlock: number;
  violations: number;
  reproduce: string;
}

export interface SimPoint {
  n: number;
  batch: number;
  silent: number;
  capacity: SimRun[];
  latency: SimRun[];
  throughputTxPerSec: Spread;
  p50LatencyMs: Spread;
  p99LatencyMs: Spread;
  /** Per committed block, by message type (capacity run of the first repeat). */
  perBlock: Record<string, { count: number; bytes: number }>;
}

export interface SimViewChange {
  n: number;
  durationsMs: number[];
  resumeMs: Spread;
  viewChangeTimeoutMs: number;
}

export interface SimResults {
  calibration: CryptoCalibration;
  config: SimConfig;
  /** What the model does not charge (stated in every record, so nobody over-reads the numbers). */
  caveats: string[];
  points: SimPoint[];
  viewChange: SimViewChange[];
  wallMs: number;
}

/** The simulator's driver hands a replica at most this many pending transactions per proposal. */
export const SIM_PROPOSE_LIMIT = 256;

function silentCount(n: number, s: '0' | '1' | 'f'): number {
  return s === '0' ? 0 : s === '1' ? 1 : maxFaulty(n);
}

/** The spec of one simulated point (pure; exported for tests and for re-running from a record). */
export function simSpec(
  n: number,
  batch: number,
  silent: number,
  txCount: number,
  meanIntervalMs: number,
  seed: number,
  cal: Pick<CryptoCalibration, 'signMs' | 'verifyMs'>,
): ScenarioSpec {
  const base = buildScenario('normal', n, seed, { cpu: { signMs: cal.signMs, verifyMs: cal.verifyMs } });
  const maxTimeMs = 600_000;
  return {
    ...base,
    name: 'normal',
    description: `bench: n=${n}, batch ${batch}, ${silent} silent backup(s), ${txCount} txs`,
    // The highest-index replicas are silent: never the view-0 primary, so no view change is provoked.
    byzantine: Array.from({ length: silent }, (_, i) => ({
      replica: n - 1 - i,
      behaviour: 'silent' as const,
    })),
    replica: {
      ...base.replica,
      maxBlockTxs: batch,
      maxBlockBytes: 8 * 1024 * 1024,
      // The simulator's own window (16 heights, checkpoint every 4): with blocks in flight bounded, the
      // primary's pending set grows while it waits and the next proposal carries up to `batch` of them,
      // which is how PBFT batches under load (Castro & Liskov, OSDI'99 §5.1).
      checkpointInterval: base.replica.checkpointInterval,
      windowSize: base.replica.windowSize,
    },
    workload: { txCount, clients: 64, startMs: 5, meanIntervalMs },
    livenessBoundMs: maxTimeMs,
    maxTimeMs,
  };
}

function summariseRun(r: RunResult, seed: number): SimRun {
  const maxLat = Math.max(0, ...r.commitLatencies);
  return {
    seed,
    txsSubmitted: r.txsSubmitted,
    txsCommitted: r.txsCommitted,
    commits: r.commits,
    throughputTxPerSec: maxLat > 0 ? (r.txsCommitted * 1000) / maxLat : 0,
    p50LatencyMs: percentile(r.commitLatencies, 50),
    p99LatencyMs: percentile(r.commitLatencies, 99),
    meanTxsPerBlock: r.commits > 0 ? r.txsCommitted / r.commits : 0,
    violations: r.violations.length,
    reproduce: r.reproduce,
  };
}

export function runSimPoint(
  n: number,
  batch: number,
  silent: number,
  cfg: SimConfig,
  cal: CryptoCalibration,
): SimPoint {
  const txs = Math.min(cfg.maxTxs, Math.max(cfg.minTxs, batch * cfg.blocksPerRun));
  const capacity: SimRun[] = [];
  const latency: SimRun[] = [];
  let perBlock: SimPoint['perBlock'] = {};
  for (let k = 0; k < cfg.repeats; k++) {
    const seed = cfg.seed + k;
    // Burst: mean gap 0.001 ms puts all submissions within ~1 ms.
    const cap = runScenario(simSpec(n, batch, silent, txs, 0.001 / 2, seed, cal), seed, {
      stopOnViolation: false,
    });
    const c = summariseRun(cap, seed);
    capacity.push(c);
    if (k === 0) perBlock = cap.perBlock;
    // Open loop at half the measured capacity (mean gap = 1 / rate, uniform in [0, 2 x mean)).
    const rate = Math.max(1, c.throughputTxPerSec / 2);
    const lat = runScenario(
      simSpec(
        n,
        batch,
        silent,
        Math.min(txs, Math.max(cfg.minTxs, Math.ceil(rate * 2))),
        1000 / rate,
        seed,
        cal,
      ),
      seed,
      {
        stopOnViolation: false,
      },
    );
    latency.push(summariseRun(lat, seed));
  }
  return {
    n,
    batch,
    silent,
    capacity,
    latency,
    throughputTxPerSec: spread(capacity.map((r) => r.throughputTxPerSec)),
    p50LatencyMs: spread(latency.map((r) => r.p50LatencyMs)),
    p99LatencyMs: spread(latency.map((r) => r.p99LatencyMs)),
    perBlock,
  };
}

export function runSimViewChange(n: number, cfg: SimConfig, cal: CryptoCalibration): SimViewChange {
  const durations: number[] = [];
  let timeout = 0;
  for (let k = 0; k < cfg.viewChangeRepeats; k++) {
    const seed = cfg.seed + k;
    const spec = buildScenario('crash-primary', n, seed, {
      cpu: { signMs: cal.signMs, verifyMs: cal.verifyMs },
    });
    timeout = spec.replica.viewChangeTimeoutMs;
    const r = runScenario(spec, seed, { stopOnViolation: false });
    durations.push(...r.viewChangeDurations);
  }
  return { n, durationsMs: durations, resumeMs: spread(durations), viewChangeTimeoutMs: timeout };
}

export function runSimSuite(
  cfg: SimConfig,
  cal: CryptoCalibration,
  log: (s: string) => void = () => {},
): SimResults {
  const t0 = performance.now();
  const points: SimPoint[] = [];
  for (const n of cfg.sizes) {
    for (const batch of cfg.batches) {
      const p = runSimPoint(n, batch, 0, cfg, cal);
      log(
        `sim n=${n} batch=${batch}: ${p.throughputTxPerSec.median.toFixed(0)} tx/s, p99 ${p.p99LatencyMs.median.toFixed(0)} ms`,
      );
      points.push(p);
    }
    for (const s of cfg.silent) {
      const silent = silentCount(n, s);
      if (silent === 0 && cfg.batches.includes(cfg.faultBatch)) continue; // already measured above
      if (points.some((p) => p.n === n && p.batch === cfg.faultBatch && p.silent === silent)) continue;
      const p = runSimPoint(n, cfg.faultBatch, silent, cfg, cal);
      log(
        `sim n=${n} batch=${cfg.faultBatch} silent=${silent}: ${p.throughputTxPerSec.median.toFixed(0)} tx/s`,
      );
      points.push(p);
    }
  }
  const viewChange = cfg.sizes.map((n) => runSimViewChange(n, cfg, cal));
  return {
    calibration: cal,
    config: cfg,
    caveats: [
      'Only consensus-message signatures are charged CPU time; client transaction signatures are verified once by the simulator and not charged (a real replica verifies every transaction once: at most 1000 / verifyMs tx/s per core).',
      `The simulator's driver hands at most ${SIM_PROPOSE_LIMIT} pending transactions to a proposal, so a batch size above ${SIM_PROPOSE_LIMIT} runs as ${SIM_PROPOSE_LIMIT} (meanTxsPerBlock shows the batch actually reached).`,
      'Execution, storage and fsync are not modelled: a block is applied instantly when committed.',
      'Network: the LAN-like default link (uniform 2-12 ms one way), no loss, no bandwidth limit.',
    ],
    points,
    viewChange,
    wallMs: performance.now() - t0,
  };
}
