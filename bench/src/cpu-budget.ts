// The CPU budget behind the throughput target (issue 9), computed from a run's own measurements.
//
// The physical ceiling is R / n transactions per second (R raw ed25519 verifications per second on all
// C cores, n validators sharing them). At a fraction F of it each validator has C / n cores for F R / n
// transactions per second, so it may spend C / (F R) seconds of CPU per transaction, whatever n is: with
// F = 0.75 that is 4/3 of one verification's CPU (v = C / R). Everything a validator does for a
// transaction besides checking its signature (admission, gossip, consensus, execution, storage, HTTP, and
// its share of the load generator) must then fit in v / 3. Setting that budget next to what a validator
// spent per committed transaction, and next to what one node spends executing blocks alone (no consensus,
// no network: `bench -- node`), says from the run's own numbers whether the target is reachable with
// today's execution cost, and how far off it is.
import { type Spread, spread } from './stats.ts';

export interface CpuBudgetInput {
  /** Cores on the machine (all of them run the validators and the load generator). */
  cores: number;
  /** Raw ed25519 verifications per second on all cores, this run. */
  rawVerifyPerSec: number;
  /** Fraction of the ceiling the target asks for (0.75). */
  targetFraction: number;
  /** Validators sharing the machine. */
  validators: number;
  /** Sustained runs: committed tx/s and each validator's CPU (cores) over the run. */
  runs: readonly { committedTxPerSec: number; validatorCores: readonly number[] }[];
  /** One node executing 1,000-transaction blocks with signature checks: process CPU per block. */
  nodeExec?: { processCpuMsPerBlock: number; txsPerBlock: number } | null;
}

export interface CpuBudget {
  /** CPU per verification when every core verifies (C / R), µs. */
  verifyUs: number;
  /** What a validator may spend per transaction at the target (C / (F R)), µs. */
  budgetUs: number;
  /** Of the budget, what is left besides the signature check, µs. */
  budgetBesidesVerifyUs: number;
  /** Measured CPU per committed transaction per validator, µs: median, min, max over the runs. */
  spentUs: Spread | null;
  /** One node's process CPU per transaction executing blocks alone (signatures included), µs. */
  nodeExecUs: number | null;
  /** The rate n validators could commit on C cores at the measured cost per transaction (median). */
  capacityAtSpentTxPerSec: number | null;
  /** The rate n validators could reach if execution alone were all they did (an upper bound). */
  capacityAtNodeExecTxPerSec: number | null;
  /** The target rate, F R / n. */
  targetTxPerSec: number;
}

export function cpuBudget(x: CpuBudgetInput): CpuBudget | null {
  if (!(x.cores > 0 && x.rawVerifyPerSec > 0 && x.targetFraction > 0 && x.validators > 0)) return null;
  const verifyUs = (1e6 * x.cores) / x.rawVerifyPerSec;
  const budgetUs = verifyUs / x.targetFraction;
  const perRun = x.runs
    .filter((r) => r.committedTxPerSec > 0 && r.validatorCores.length > 0)
    .map((r) => {
      const cores = r.validatorCores.reduce((a, b) => a + b, 0) / r.validatorCores.length;
      return (1e6 * cores) / r.committedTxPerSec;
    })
    .filter(Number.isFinite);
  const spentUs = perRun.length > 0 ? spread(perRun) : null;
  const e = x.nodeExec;
  const nodeExecUs =
    e && e.txsPerBlock > 0 && e.processCpuMsPerBlock > 0
      ? (1000 * e.processCpuMsPerBlock) / e.txsPerBlock
      : null;
  // n validators each spending s µs per transaction on C cores commit at most C / (n s) per second.
  const capacity = (us: number | null) => (us === null ? null : (1e6 * x.cores) / (x.validators * us));
  return {
    verifyUs,
    budgetUs,
    budgetBesidesVerifyUs: budgetUs - verifyUs,
    spentUs,
    nodeExecUs,
    capacityAtSpentTxPerSec: capacity(spentUs?.median ?? null),
    capacityAtNodeExecTxPerSec: capacity(nodeExecUs),
    targetTxPerSec: (x.targetFraction * x.rawVerifyPerSec) / x.validators,
  };
}
