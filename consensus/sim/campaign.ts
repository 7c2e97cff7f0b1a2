// Many runs: every (scenario, n) over a range of seeds, summarised per row. Used by the CLI's --seeds
// mode, the CI test, and bench/.

import { type BuildOptions, buildScenario, DEFAULT_SIZES, SCENARIO_NAMES } from './scenarios.ts';
import type { Violation } from './invariants.ts';
import type { RunResult } from './scenario.ts';
import { runScenario } from './simulator.ts';

export interface CampaignOptions extends BuildOptions {
  scenarios?: readonly string[];
  sizes?: readonly number[];
  /** Seeds firstSeed .. firstSeed + seeds - 1. */
  seeds: number;
  firstSeed?: number;
  /** Called after each run (progress output). */
  onRun?: (r: RunResult) => void;
}

export interface Failure {
  scenario: string;
  n: number;
  seed: number;
  reproduce: string;
  violations: Violation[];
}

export interface CampaignRow {
  scenario: string;
  n: number;
  runs: number;
  violations: number;
  /** Heights committed, summed over runs. */
  commits: number;
  /** View changes (highest view reached), summed over runs. */
  viewChanges: number;
  txsSubmitted: number;
  txsCommitted: number;
  /** Idle primaries' requests for a block citing the quiet chain's state (ADR 0125). */
  stateCitations: number;
  /** Median commit latency over all runs' samples, ms of virtual time. */
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface CampaignResult {
  rows: CampaignRow[];
  failures: Failure[];
  /** Total violations over every run. */
  violations: number;
  runs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function runCampaign(opts: CampaignOptions): CampaignResult {
  const scenarios = opts.scenarios ?? SCENARIO_NAMES;
  const sizes = opts.sizes ?? DEFAULT_SIZES;
  const first = opts.firstSeed ?? 1;
  const rows: CampaignRow[] = [];
  const failures: Failure[] = [];
  for (const scenario of scenarios) {
    for (const n of sizes) {
      const row: CampaignRow = {
        scenario,
        n,
        runs: 0,
        violations: 0,
        commits: 0,
        viewChanges: 0,
        txsSubmitted: 0,
        txsCommitted: 0,
        stateCitations: 0,
        latencyP50Ms: 0,
        latencyP99Ms: 0,
      };
      const latencies: number[] = [];
      for (let seed = first; seed < first + opts.seeds; seed++) {
        const r = runScenario(buildScenario(scenario, n, seed, opts), seed);
        opts.onRun?.(r);
        row.runs++;
        row.violations += r.violations.length;
        row.commits += r.commits;
        row.viewChanges += r.viewChanges;
        row.txsSubmitted += r.txsSubmitted;
        row.txsCommitted += r.txsCommitted;
        row.stateCitations += r.stateCitations;
        latencies.push(...r.commitLatencies);
        if (r.violations.length > 0)
          failures.push({ scenario, n, seed, reproduce: r.reproduce, violations: r.violations });
      }
      latencies.sort((a, b) => a - b);
      row.latencyP50Ms = percentile(latencies, 50);
      row.latencyP99Ms = percentile(latencies, 99);
      rows.push(row);
    }
  }
  return {
    rows,
    failures,
    violations: rows.reduce((s, r) => s + r.violations, 0),
    runs: rows.reduce((s, r) => s + r.runs, 0),
  };
}
