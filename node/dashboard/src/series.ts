// Chart series helpers, free of DOM and uPlot so they can be unit-tested.

/** Readings further apart than this are not joined by a line (the device was off, the network down). */
export const GAP_MS = 5 * 60_000;

/** Seconds for uPlot, with a null between readings more than GAP_MS apart so the line breaks there. */
export function withGaps(times: number[], values: number[]): [number[], (number | null)[]] {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (let i = 0; i < times.length; i++) {
    if (i > 0 && times[i]! - times[i - 1]! > GAP_MS) {
      xs.push((times[i - 1]! + 1) / 1000);
      ys.push(null);
    }
    xs.push(times[i]! / 1000);
    ys.push(values[i]!);
  }
  return [xs, ys];
}
