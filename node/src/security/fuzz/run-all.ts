// Runs a list of fuzz targets in turn and totals the outcome: what both the CI test and the long run
// (`npm run fuzz`) call.
import { type AnyFuzzTarget, runTarget, type TargetReport } from './harness.ts';

export interface FuzzSummary {
  reports: TargetReport[];
  totalCases: number;
  failures: number;
  elapsedMs: number;
}

export async function runAll(
  targets: readonly AnyFuzzTarget[],
  o: { runs: number; seed: number; hangMs?: number; onReport?: (r: TargetReport) => void },
): Promise<FuzzSummary> {
  const t0 = performance.now();
  const reports: TargetReport[] = [];
  for (const target of targets) {
    const runs = Math.max(1, Math.round(o.runs * (target.weight ?? 1)));
    const r = await runTarget(target, { runs, seed: o.seed, ...(o.hangMs ? { hangMs: o.hangMs } : {}) });
    reports.push(r);
    o.onReport?.(r);
  }
  return {
    reports,
    totalCases: reports.reduce((a, r) => a + r.runs, 0),
    failures: reports.filter((r) => r.failure !== undefined).length,
    elapsedMs: Math.round(performance.now() - t0),
  };
}

export function formatReport(r: TargetReport): string {
  const top = Object.entries(r.outcomes)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([c, n]) => `${c}=${n}`)
    .join(' ');
  const status = r.failure === undefined ? 'ok  ' : 'FAIL';
  return `${status} ${r.target.padEnd(34)} ${String(r.runs).padStart(9)} cases ${String(r.elapsedMs).padStart(7)} ms  max case ${r.maxCaseMs} ms  ${top}${r.failure ? `\n     ${r.failure.replaceAll('\n', '\n     ')}` : ''}`;
}
