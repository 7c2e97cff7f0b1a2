// The state machine's default alert thresholds (node/src/state-machine/handlers/readings.ts,
// DEFAULT_THRESHOLDS; thresholds.test.ts keeps the two equal). Copied rather than imported because the
// state machine's module graph is not browser code. Wire units (temperature ×10). A patient's own
// alert policy (setAlertPolicy) is not readable through the API yet, so charts draw these defaults.
export const DEFAULT_THRESHOLDS: Readonly<Record<number, { low: number; high: number } | null>> = {
  1: { low: 41, high: 130 },
  2: { low: 92, high: 100 },
  3: { low: 91, high: 219 },
  4: { low: 40, high: 120 },
  5: { low: 351, high: 390 },
  6: { low: 9, high: 24 },
  7: null,
  8: { low: 0, high: 0 },
};
