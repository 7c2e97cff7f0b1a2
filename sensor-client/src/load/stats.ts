// Latency statistics for the load generator. Percentiles use the nearest-rank definition (the smallest
// sample such that at least p% of samples are <= it), which always returns an observed value and never
// interpolates a latency nobody experienced. Raw samples are kept so a reader can recompute anything.

export interface LatencySummary {
  count: number;
  min: number;
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

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    count: arr.length,
    min: arr.length ? arr[0]! : Number.NaN,
    mean: arr.length ? sum / arr.length : Number.NaN,
    p50: percentileSorted(arr, 50),
    p90: percentileSorted(arr, 90),
    p99: percentileSorted(arr, 99),
    p999: percentileSorted(arr, 99.9),
    max: arr.length ? arr[arr.length - 1]! : Number.NaN,
  };
}
