// Pure statistics of the benchmark harness: repeat summaries (min, median, max) and knee finding.
// Percentiles of latency samples come from the load generator's stats.ts (nearest rank); this file only
// aggregates measurements that are already numbers.

export interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}

/**
 * Min, median and max of repeated measurements (median of an even count: mean of the middle two).
 * NaN (nothing measured) is left out; +Infinity is kept as the largest value: a repeat whose p99 fell on
 * a transaction that never committed (sensor-client/src/load/stats.ts) is the worst run, and dropping it
 * would make the median of three runs the mean of the two better ones.
 */
export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x) || x === Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  if (v.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, max: v[v.length - 1]!, n: v.length };
}

/** Nearest-rank percentile (p in (0, 100]) of unsorted samples; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile out of range: ${p}`);
  const v = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const rank = Math.ceil(Math.round(p * v.length * 1e6) / 1e8);
  return v[Math.max(1, rank) - 1]!;
}

/** One offered-load point of a saturation sweep. */
export interface LoadPoint {
  offeredTxPerSec: number;
  committedTxPerSec: number;
  p99LatencyMs: number;
  /** Measured transactions never committed (after the drain). */
  notCommitted: number;
  measured: number;
  /** A repeated point: its other runs (the point itself is one of its runs). */
  runs?: { others: readonly LoadPoint[] };
}

/**
 * A point keeps up when its p99 latency is bounded and (almost) everything it offered was committed
 * by the end of the drain. The committed rate inside the measured window is NOT a criterion: with a
 * short window, commits of the window's last transactions fall after it, so the in-window rate
 * understates a system that keeps up; a system that does not keep up shows a growing p99 or losses.
 */
export interface KneeCriteria {
  /** p99 latency at most this (default 1,000 ms, issue #9's target). */
  maxP99Ms: number;
  /** At most this fraction of measured transactions stayed uncommitted after the drain (default 0.01). */
  maxLostFraction: number;
  /**
   * At least this many measured transactions (default 50): with fewer, "p99" is just the maximum of a
   * handful of samples, and at low rates the generator's batches leave few transactions in the window.
   */
  minSamples: number;
}

export const DEFAULT_KNEE: KneeCriteria = { maxP99Ms: 1_000, maxLostFraction: 0.01, minSamples: 50 };

export function keepsUp(p: LoadPoint, c: KneeCriteria = DEFAULT_KNEE): boolean {
  return (
    p.offeredTxPerSec > 0 &&
    p.measured >= Math.max(1, c.minSamples) &&
    Number.isFinite(p.p99LatencyMs) &&
    p.p99LatencyMs <= c.maxP99Ms &&
    p.notCommitted <= c.maxLostFraction * Math.max(1, p.measured)
  );
}

/**
 * Whether a point kept up: a repeated point when most of its runs did (strictly more than half), so
 * that neither one lucky run nor one unlucky run decides where the knee is.
 */
export function pointKeepsUp(p: LoadPoint, c: KneeCriteria = DEFAULT_KNEE): boolean {
  const runs = [p, ...(p.runs?.others ?? [])];
  const kept = runs.filter((r) => keepsUp(r, c)).length;
  return 2 * kept > runs.length;
}

export interface Knee {
  /** Highest offered load, below the first point that fails, that kept up (undefined: none did). */
  kneeTxPerSec: number | undefined;
  /** The first offered load that did not keep up (undefined: saturation not reached). */
  saturatedAtTxPerSec: number | undefined;
  /** The best committed rate any point achieved (the observed capacity). */
  maxCommittedTxPerSec: number;
}

/**
 * The knee of a sweep at increasing offered load: the last point that kept up before the first that did
 * not. Points after the first failure are not trusted to define the knee (an overloaded system may
 * recover between points and pass a later one by luck), but still count towards the observed maximum.
 */
export function findKnee(points: readonly LoadPoint[], c: KneeCriteria = DEFAULT_KNEE): Knee {
  const sorted = [...points].sort((a, b) => a.offeredTxPerSec - b.offeredTxPerSec);
  let knee: number | undefined;
  let saturated: number | undefined;
  for (const p of sorted) {
    if (pointKeepsUp(p, c)) knee = p.offeredTxPerSec;
    else {
      saturated = p.offeredTxPerSec;
      break;
    }
  }
  const maxCommitted = Math.max(0, ...sorted.map((p) => p.committedTxPerSec).filter(Number.isFinite));
  return { kneeTxPerSec: knee, saturatedAtTxPerSec: saturated, maxCommittedTxPerSec: maxCommitted };
}

/**
 * The next offered load of an adaptive sweep: double while points keep up, then bisect between the
 * last good and the first bad load until they are within `resolution` (a fraction, e.g. 0.15) of each
 * other. Returns undefined when the search is done.
 */
export function nextOfferedLoad(
  points: readonly LoadPoint[],
  start: number,
  resolution: number,
  cap: number,
  c: KneeCriteria = DEFAULT_KNEE,
): number | undefined {
  if (points.length === 0) return start;
  const { kneeTxPerSec: good, saturatedAtTxPerSec: bad } = findKnee(points, c);
  if (bad === undefined) {
    const next = 2 * (good ?? start);
    return next > cap ? undefined : next;
  }
  if (good === undefined) {
    // Even the first point failed: try lower, down to a floor of 1/8 of the start.
    const lowest = Math.min(...points.map((p) => p.offeredTxPerSec));
    const next = Math.round(lowest / 2);
    return next < start / 8 ? undefined : next;
  }
  if ((bad - good) / good <= resolution) return undefined;
  return Math.round((good + bad) / 2);
}
