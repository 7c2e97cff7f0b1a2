// A real network with every validator under `node --cpu-prof` (through NODE_OPTIONS), a steady offered
// load, then an orderly stop (SIGTERM: the exit writes the profiles), and where the validators' CPU
// went: by area of the code base, by function, and by component (cpu-components.ts). Used by
// `npm run bench -- profile` and by the suite, which profiles the n = 4 network just below its knee to
// name the bottleneck in its report.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Component,
  componentShares,
  mergeComponentShares,
  runningFunctionCounts,
  topFunctions,
  withoutComponent,
} from './cpu-components.ts';
import {
  type CpuProfile,
  mergeSummaries,
  type ProfileSummary,
  type Share,
  summariseProfile,
} from './cpu-profile.ts';
import { BenchNetwork } from './real/bench-network.ts';

export interface NetworkProfileOptions {
  n: number;
  /** Offered load, tx/s. */
  rate: number;
  seconds: number;
  seed: number;
  devices: number;
  batchSize: number;
}

export interface NetworkProfile {
  options: NetworkProfileOptions;
  /** Where the .cpuprofile files are (one per validator thread: main and verification workers). */
  dir: string;
  threads: number;
  committedTxPerSec: number;
  p50LatencyMs: number | null;
  p99LatencyMs: number | null;
  merged: ProfileSummary;
  perThread: ProfileSummary[];
  /** Busy samples of all validator threads by kind of work, largest first, start-up left out. */
  components: Share[];
  /** Busy samples spent starting up (loading and compiling modules), left out of the shares. */
  startupSamples: number;
  /** The largest self times by function over the same samples as `components`. */
  topFunctions: Share[];
}

export async function profileNetwork(o: NetworkProfileOptions): Promise<NetworkProfile> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cpuprof-'));
  const b = await BenchNetwork.start({
    n: o.n,
    seed: o.seed,
    viewChangeTimeoutMs: 1_000,
    env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` },
  });
  let load: Awaited<ReturnType<BenchNetwork['runLoad']>> | undefined;
  try {
    await b.enrolDevices(o.devices);
    const prepared = await b.prepareLoad(
      { rate: o.rate, durationS: o.seconds, warmupS: 1, drainS: 3, batchSize: o.batchSize },
      2,
    );
    load = await b.runLoad(prepared);
  } finally {
    await b.stop();
  }
  const profiles = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
  const perThread = profiles
    .map((p) => summariseProfile(p, 25))
    .filter((s) => s.samples > 0)
    .sort((a, b) => b.busySamples - a.busySamples);
  // A profile covers the whole process: its first seconds load and compile modules, which in a short
  // run is a large share of the samples and nothing a validator does under load.
  const running = withoutComponent(
    mergeComponentShares(profiles.map((p) => componentShares(p))),
    Component.startup,
  );
  return {
    options: o,
    dir,
    threads: profiles.length,
    committedTxPerSec: load.committed.ratePerSec,
    p50LatencyMs: load.latencyMs.p50,
    p99LatencyMs: load.latencyMs.p99,
    merged: mergeSummaries(perThread, 25),
    perThread,
    components: running.shares,
    startupSamples: running.removed,
    topFunctions: topFunctions(
      profiles.map((p) => runningFunctionCounts(p)),
      10,
    ),
  };
}
