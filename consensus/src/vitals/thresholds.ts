// Default alert thresholds, shared by the state machine (which raises alerts with them at execution)
// and the dashboard (which draws them as chart bands), so the two cannot drift apart. Pure data: this
// module is browser code.

/** An inclusive normal range in wire units (temperature x10, see kinds.ts). */
export interface AlertThreshold {
  readonly low: number;
  readonly high: number;
}

/**
 * Default alert thresholds by reading kind, used when the patient has no policy for a kind: the edges
 * of the NEWS2 sub-score-3 zones (RCP 2017 chart 1), so a single reading that alone would score 3 raises
 * an alert. Diastolic BP is not in NEWS2: 40..120 mm[Hg]. Supplemental oxygen has no threshold (it is a
 * treatment, not a finding); any ACVPU other than Alert raises one.
 */
export const DEFAULT_THRESHOLDS: Readonly<Record<number, AlertThreshold | null>> = {
  1: { low: 41, high: 130 },
  2: { low: 92, high: 100 },
  3: { low: 91, high: 219 },
  4: { low: 40, high: 120 },
  5: { low: 351, high: 390 },
  6: { low: 9, high: 24 },
  7: null,
  8: { low: 0, high: 0 },
};
