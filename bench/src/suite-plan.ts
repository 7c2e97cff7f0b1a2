// What a quick and a full suite run measure: plain data, stored in every record (config.plan), so a
// reader sees exactly which points, durations and repeats produced the numbers.
import type { RealConfig } from './real/real-bench.ts';
import type { SimConfig } from './sim-bench.ts';
import { DEFAULT_KNEE } from './stats.ts';

/**
 * The benchmark networks' state-root interval (ADR 0117): 8, as the devnet, since their load is steady
 * sensor traffic. The genesis default is 1; `probe --root-interval 1` measures that.
 */
export const BENCH_STATE_ROOT_INTERVAL = 8;

export type SuiteMode = 'quick' | 'extended' | 'full';

export interface SuitePlan {
  mode: SuiteMode;
  sim: SimConfig;
  real: RealConfig[];
}

/** The plan of a quick or full run (pure: the record stores it, and tests check its invariants). */
/**
 * quick: the <= 3 minute n = 4 loopback subset; extended: quick's settings for every real network of the
 * full sweep (n = 7, the four network conditions), one repeat each (~10 minutes); full: the issue #9
 * sweep with 3 repeats and 60 s sustained runs (hours).
 */
export function suitePlan(mode: SuiteMode, seed: number): SuitePlan {
  const quick = mode !== 'full';
  const sim: SimConfig = quick
    ? {
        sizes: [4, 7],
        batches: [1, 10, 100],
        silent: ['1'],
        faultBatch: 10,
        repeats: 1,
        blocksPerRun: 8,
        minTxs: 24,
        maxTxs: 800,
        viewChangeRepeats: 1,
        seed,
      }
    : {
        sizes: [4, 7, 10, 13, 16],
        batches: [1, 10, 100, 1000],
        silent: ['0', '1', 'f'],
        faultBatch: 100,
        repeats: 3,
        blocksPerRun: 10,
        minTxs: 30,
        maxTxs: 3000,
        viewChangeRepeats: 3,
        seed,
      };
  const base: Omit<RealConfig, 'n' | 'condition'> = quick
    ? {
        devices: 64,
        batchSize: 50,
        startRate: 50,
        maxRate: 12_800,
        resolution: 0.3,
        maxPoints: 6,
        pointS: 5,
        pointRepeats: 1,
        warmupS: 1,
        drainS: 4,
        repeats: 1,
        sustainedS: 6,
        belowKneeFraction: 0.9,
        viewChange: true,
        sync: true,
        faultRate: 100,
        syncGapS: 5,
        signWorkers: 2,
        stateRootInterval: BENCH_STATE_ROOT_INTERVAL,
        // In the plan, so the record holds the criteria that placed its knee.
        knee: { ...DEFAULT_KNEE },
        seed,
      }
    : {
        devices: 256,
        batchSize: 50,
        startRate: 100,
        maxRate: 25_600,
        resolution: 0.15,
        maxPoints: 8,
        pointS: 20,
        pointRepeats: 3,
        warmupS: 5,
        drainS: 10,
        repeats: 3,
        sustainedS: 60,
        belowKneeFraction: 0.9,
        viewChange: true,
        sync: true,
        faultRate: 200,
        syncGapS: 30,
        signWorkers: 2,
        stateRootInterval: BENCH_STATE_ROOT_INTERVAL,
        // In the plan, so the record holds the criteria that placed its knee.
        knee: { ...DEFAULT_KNEE },
        seed,
      };
  const real: RealConfig[] = [{ ...base, n: 4, condition: 'loopback' }];
  if (mode !== 'quick') {
    real.push({ ...base, n: 7, condition: 'loopback' });
    const faulty = quick
      ? { ...base, viewChange: false, sync: false }
      : { ...base, viewChange: false, sync: false, maxPoints: 6, pointS: 15, sustainedS: 30 };
    real.push({ ...faulty, n: 4, condition: 'latency 10 ms', faults: { latencyMs: 10, jitterMs: 1 } });
    real.push({ ...faulty, n: 4, condition: 'latency 50 ms', faults: { latencyMs: 50, jitterMs: 5 } });
    real.push({ ...faulty, n: 4, condition: 'latency 100 ms', faults: { latencyMs: 100, jitterMs: 10 } });
    real.push({ ...faulty, n: 4, condition: 'loss 1%', faults: { loss: 0.01 } });
  }
  return { mode, sim, real };
}

/** A real network's name for `--networks` ("n4-loopback", "n4-latency-10-ms", "n4-loss-1"). */
export function networkSlug(x: Pick<RealConfig, 'n' | 'condition'>): string {
  return `n${x.n}-${x.condition}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/-+$/, '');
}
