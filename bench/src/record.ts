// The JSON record of one benchmark suite run (bench/results/<mode>-<time>.json) and the summary kept in
// bench/results/latest.json. A record carries everything needed to judge and reproduce it: the full
// configuration, the git commit (and whether the tree was dirty), Node version, CPU model and cores, the
// seed, the measured crypto costs and every raw latency sample.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { BenchError } from './errors.ts';
import type { Share } from './cpu-profile.ts';
import type { RealResult } from './real/real-bench.ts';
import type { SimResults } from './sim-bench.ts';
import type { SuiteMode } from './suite-plan.ts';

export const RECORD_SCHEMA = 'vigil-bench/v1';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  memoryBytes: number;
  platform: string;
  arch: string;
  node: string;
  loadAverage: number[];
}

/**
 * The n = 4 network profiled just below its knee (every validator under --cpu-prof): what the report
 * names as the bottleneck when the throughput target is missed (issue 9).
 */
export interface BottleneckProfile {
  network: string;
  offeredTxPerSec: number;
  seconds: number;
  committedTxPerSec: number;
  p99LatencyMs: number | null;
  /** Validator threads profiled (each validator's main thread and its verification workers). */
  threads: number;
  busySamples: number;
  /** Of busySamples, spent loading and compiling modules at start-up: left out of the shares below. */
  startupSamples: number;
  /** Busy samples by kind of work (cpu-components.ts), largest first. */
  components: Share[];
  /** Self time by function, the largest ten. */
  topFunctions: Share[];
}

export interface NodeExecResult {
  execTxPerSec: number;
  rawVerifyPerSec: number;
  ratio: number;
  raw: Record<string, unknown>;
}

export interface BenchRecord {
  schema: typeof RECORD_SCHEMA;
  mode: SuiteMode;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  gitCommit: string | null;
  gitDirty: boolean | null;
  machine: MachineInfo;
  seed: number;
  command: string;
  config: Record<string, unknown>;
  /**
   * Raw ed25519 verifications per second on all cores (worker threads, node:crypto), this run: the
   * median of `samples` (records before 2026-12-05 19:45 measured it once, at the start, and have no
   * samples).
   */
  ceiling: { rawVerifyPerSec: number; method: string; samples?: CeilingSample[] };
  node: NodeExecResult | null;
  sim: SimResults | null;
  real: RealResult[];
  /** Absent in records before 2026-12-05; null when no n = 4 loopback network was run. */
  bottleneck?: BottleneckProfile | null;
  errors: string[];
}

export interface LatestSummary {
  schema: typeof RECORD_SCHEMA;
  mode: SuiteMode;
  record: string;
  finishedAt: string;
  gitCommit: string | null;
  machine: { cpuModel: string; cores: number; node: string };
  real: Record<
    string,
    {
      condition: string;
      throughputTxPerSec: number | null;
      p50LatencyMs: number | null;
      p99LatencyMs: number | null;
      kneeTxPerSec: number | null;
      /** First offered load that did not keep up, and the best committed rate any point reached. */
      saturatedAtTxPerSec: number | null;
      maxCommittedTxPerSec: number;
      ceilingTxPerSec: number;
      fractionOfCeiling: number | null;
    }
  >;
  viewChange: {
    resumeMs: number | null;
    firstBlockAfterKillMs: number | null;
    viewChangeTimeoutMs: number | null;
  };
  sync: { txPerSec: number | null; blocksPerSec: number | null; gapTxs: number | null };
  node: { execTxPerSec: number | null; rawVerifyPerSec: number };
  sim: { calibration: { signMs: number; verifyMs: number } | null };
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    loadAverage: os.loadavg(),
  };
}

export function gitState(cwd: string): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

const finite = (x: number | undefined | null): number | null =>
  x !== undefined && x !== null && Number.isFinite(x) ? x : null;

/** One measurement of the raw all-core verification rate during a run (bench/src/raw-verify.ts). */
export interface CeilingSample {
  /** When in the run: "start" (with `bench -- node`), "before <network>", "end". */
  label: string;
  at: string;
  rawVerifyPerSec: number;
  /** Thread CPU time per verification in the workers: a slower core shows here, a busier machine not. */
  cpuUsPerSignature: number;
}

/**
 * The run's raw verification rate from its samples: their median. A single reading can be far off: in
 * the full run of 2026-12-05 18:18 the one taken at the start read 11,874/s (152 µs of CPU per
 * verification) against 17,800-20,700/s (~96 µs) in the same day's other runs, while the validators
 * spent as much CPU per transaction as in those runs; the ceiling and every fraction of it moved 1.6x.
 */
export function ceilingFromSamples(samples: readonly CeilingSample[]): number {
  const rates = samples
    .map((x) => x.rawVerifyPerSec)
    .filter((x) => Number.isFinite(x) && x > 0)
    .sort((a, b) => a - b);
  if (rates.length === 0) return 0;
  const mid = rates.length >> 1;
  return rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
}

/** The per-validator ceiling: raw all-core verifications per second / validators sharing the machine. */
export function ceilingTxPerSec(rawVerifyPerSec: number, validators: number): number {
  return rawVerifyPerSec / validators;
}

/** latest.json: the headline numbers of a record (real.n4.* is the loopback n = 4 network). */
export function summarise(r: BenchRecord, recordFile: string): LatestSummary {
  const real: LatestSummary['real'] = {};
  for (const x of r.real) {
    const key =
      x.condition === 'loopback' ? `n${x.n}` : `n${x.n}-${x.condition.replace(/[^a-z0-9]+/gi, '-')}`;
    const ceiling = ceilingTxPerSec(r.ceiling.rawVerifyPerSec, x.n);
    // Sustained below the knee when measured; else the knee point of the sweep itself.
    const kneePoint = x.sweep.find((p) => p.offeredTxPerSec === x.knee.kneeTxPerSec);
    // Repeats that measured no transaction at all (e.g. a stalled network) have no throughput: null.
    const below = x.belowKnee?.repeats.some((p) => p.measured > 0) ? x.belowKnee : null;
    // Throughput and latencies always come from the same measurement: the below-knee repeats when they
    // measured anything (a stalled network: throughput 0, latencies null), else the knee point.
    const thr = finite(below ? below.throughputTxPerSec.median : kneePoint?.committedTxPerSec);
    real[key] = {
      condition: x.condition,
      throughputTxPerSec: thr,
      p50LatencyMs: finite(below ? below.p50LatencyMs.median : kneePoint?.p50LatencyMs),
      p99LatencyMs: finite(below ? below.p99LatencyMs.median : kneePoint?.p99LatencyMs),
      kneeTxPerSec: finite(x.knee.kneeTxPerSec),
      saturatedAtTxPerSec: finite(x.knee.saturatedAtTxPerSec),
      maxCommittedTxPerSec: x.knee.maxCommittedTxPerSec,
      ceilingTxPerSec: ceiling,
      fractionOfCeiling: thr !== null && ceiling > 0 ? thr / ceiling : null,
    };
  }
  const vc = r.real.find((x) => x.viewChange !== null)?.viewChange ?? null;
  const sync = r.real.find((x) => x.sync !== null)?.sync ?? null;
  return {
    schema: RECORD_SCHEMA,
    mode: r.mode,
    record: recordFile,
    finishedAt: r.finishedAt,
    gitCommit: r.gitCommit,
    machine: { cpuModel: r.machine.cpuModel, cores: r.machine.cores, node: r.machine.node },
    real,
    viewChange: {
      resumeMs: finite(vc?.resumeMs),
      firstBlockAfterKillMs: finite(vc?.firstBlockAfterKillMs),
      viewChangeTimeoutMs: finite(vc?.viewChangeTimeoutMs),
    },
    sync: {
      txPerSec: finite(sync?.txPerSec),
      blocksPerSec: finite(sync?.blocksPerSec),
      gapTxs: finite(sync?.gapTxs),
    },
    node: { execTxPerSec: finite(r.node?.execTxPerSec), rawVerifyPerSec: r.ceiling.rawVerifyPerSec },
    sim: {
      calibration: r.sim ? { signMs: r.sim.calibration.signMs, verifyMs: r.sim.calibration.verifyMs } : null,
    },
  };
}

type Check = [
  path: string,
  kind: 'string' | 'number' | 'boolean' | 'array' | 'object' | 'numberOrNull' | 'stringOrNull',
];

const RECORD_FIELDS: Check[] = [
  ['schema', 'string'],
  ['mode', 'string'],
  ['startedAt', 'string'],
  ['finishedAt', 'string'],
  ['wallSeconds', 'number'],
  ['gitCommit', 'stringOrNull'],
  ['machine', 'object'],
  ['machine.cpuModel', 'string'],
  ['machine.cores', 'number'],
  ['machine.node', 'string'],
  ['seed', 'number'],
  ['command', 'string'],
  ['config', 'object'],
  ['ceiling.rawVerifyPerSec', 'number'],
  ['real', 'array'],
  ['errors', 'array'],
];

const LATEST_FIELDS: Check[] = [
  ['schema', 'string'],
  ['record', 'string'],
  ['real.n4.throughputTxPerSec', 'numberOrNull'],
  ['real.n4.p50LatencyMs', 'numberOrNull'],
  ['real.n4.p99LatencyMs', 'numberOrNull'],
  ['real.n4.ceilingTxPerSec', 'number'],
  ['viewChange.resumeMs', 'numberOrNull'],
  ['sync.txPerSec', 'numberOrNull'],
  ['node.execTxPerSec', 'numberOrNull'],
  ['node.rawVerifyPerSec', 'number'],
];

function get(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function check(o: unknown, fields: readonly Check[], what: string): void {
  for (const [path, kind] of fields) {
    const v = get(o, path);
    const ok =
      kind === 'array'
        ? Array.isArray(v)
        : kind === 'object'
          ? v !== null && typeof v === 'object' && !Array.isArray(v)
          : kind === 'numberOrNull'
            ? v === null || (typeof v === 'number' && Number.isFinite(v))
            : kind === 'stringOrNull'
              ? v === null || typeof v === 'string'
              : kind === 'number'
                ? typeof v === 'number' && Number.isFinite(v)
                : typeof v === kind;
    if (!ok) throw new BenchError('BAD_RECORD', `${what}: ${path} must be ${kind}, got ${JSON.stringify(v)}`);
  }
  if (get(o, 'schema') !== RECORD_SCHEMA)
    throw new BenchError('BAD_RECORD', `${what}: schema must be ${RECORD_SCHEMA}`);
}

/** Throws BenchError('BAD_RECORD') unless `o` has the record's required fields with the right types. */
export function validateRecord(o: unknown): asserts o is BenchRecord {
  check(o, RECORD_FIELDS, 'record');
  const mode = get(o, 'mode');
  if (mode !== 'quick' && mode !== 'extended' && mode !== 'full')
    throw new BenchError('BAD_RECORD', 'record: mode must be quick, extended or full');
}

export function validateLatest(o: unknown): asserts o is LatestSummary {
  check(o, LATEST_FIELDS, 'latest');
}
