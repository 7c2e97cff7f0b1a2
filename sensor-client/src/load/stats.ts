// Latency statistics for the load generator. Percentiles use the nearest-rank definition (the smallest
// sample such that at least p% of samples are <= it), which always returns an observed value and never
// interpolates a latency nobody experienced. Raw samples are kept so a reader can recompute anything.
//
// Transactions that never committed (refused with MEMPOOL_FULL or 429, or still pending after the
// drain) are ranked too, as later than every committed one (+Infinity). Leaving them out would report
// the percentiles of the survivors: with 0.9 % of a point lost, "p99" would in truth be the committed
// transactions' p99.9, and a point could pass the 1 s knee criterion while one transaction in a hundred
// waited forever. A percentile that falls on a lost transaction is therefore Infinity (null in JSON).

export interface LatencySummary {
  /** Committed samples (the finite latencies). */
  count: number;
  /** Transactions that never committed, ranked above every sample (absent before 2026-12-05 23:50 UTC). */
  missing?: number;
  min: number;
  /** Mean of the committed samples only (a lost transaction has no latency to add). */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of an ascending-sorted array; p in (0, 100]. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile out of range: ${p}`);
  // (99.9 / 100) * 1000 is 999.0000000000001 in binary floating point: compute the rank in a way that
  // is exact for percentiles with up to 6 decimals, or p99.9 of 1000 samples would be the maximum.
  const rank = Math.ceil(Math.round(p * sorted.length * 1e6) / 1e8);
  return sorted[Math.max(1, rank) - 1]!;
}

/**
 * Summary of latency samples; `missing` transactions that never committed rank above all of them
 * (+Infinity), so a percentile is the latency within which that share of ALL measured transactions
 * committed.
 */
export function summarize(samples: readonly number[], missing = 0): LatencySummary {
  if (!(Number.isSafeInteger(missing) && missing >= 0)) throw new RangeError(`bad missing count: ${missing}`);
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const arr = Array.from(sorted);
  for (let i = 0; i < missing; i++) arr.push(Number.POSITIVE_INFINITY);
  return {
    count,
    missing,
    min: count ? arr[0]! : Number.NaN,
    mean: count ? sum / count : Number.NaN,
    p50: percentileSorted(arr, 50),
    p90: percentileSorted(arr, 90),
    p99: percentileSorted(arr, 99),
    p999: percentileSorted(arr, 99.9),
    max: arr.length ? arr[arr.length - 1]! : Number.NaN,
  };
}
