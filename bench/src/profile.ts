// `npm run bench -- profile [--n 4] [--rate 100] [--seconds 15] [--seed 1]`: runs a real network with
// every validator under `node --cpu-prof` (through NODE_OPTIONS), offers a steady load, stops the
// validators (SIGTERM: an orderly exit writes the profile) and prints where their CPU went, by area of
// the code base and by function. Writes bench/results/profile-<time>.json; the .cpuprofile files stay in
// the printed directory for Chrome DevTools or speedscope.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CpuProfile, mergeSummaries, summariseProfile } from './cpu-profile.ts';
import { BenchNetwork } from './real/bench-network.ts';
import { gitState, machineInfo } from './record.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string', default: '4' },
      rate: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '15' },
      seed: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const n = Number(values.n);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const seed = Number(values.seed);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cpuprof-'));
  const b = await BenchNetwork.start({
    n,
    seed,
    viewChangeTimeoutMs: 1_000,
    env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` },
  });
  let load: Awaited<ReturnType<BenchNetwork['runLoad']>> | undefined;
  try {
    await b.enrolDevices(32);
    const prepared = await b.prepareLoad(
      { rate, durationS: seconds, warmupS: 1, drainS: 3, batchSize: 10 },
      2,
    );
    load = await b.runLoad(prepared);
  } finally {
    await b.stop();
  }
  // One profile per thread: each validator's main thread and its verification worker threads.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const summaries = files
    .map((f) => summariseProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, 25))
    .filter((s) => s.samples > 0)
    .sort((a, b) => b.busySamples - a.busySamples);
  const merged = mergeSummaries(summaries, 25);
  const out = {
    tool: 'vigil bench profile',
    finishedAt: new Date().toISOString(),
    gitCommit: gitState(REPO).commit,
    machine: machineInfo(),
    config: { n, rate, seconds, seed, batchSize: 10, devices: 32 },
    load: load && { ...load, rawLatencyMs: undefined },
    profileDir: dir,
    merged,
    perThread: summaries,
  };
  const results = join(REPO, 'bench/results');
  mkdirSync(results, { recursive: true });
  const file = join(results, `profile-${out.finishedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
  console.log(`profiles in ${dir}; summary in ${file}`);
  console.log(
    `${files.length} thread profiles, ${merged.busySamples} busy samples; committed ${load?.committed.ratePerSec.toFixed(0)} tx/s, p50 ${load?.latencyMs.p50?.toFixed(0)} ms, p99 ${load?.latencyMs.p99?.toFixed(0)} ms`,
  );
  console.log('by area (self time, all validators):');
  for (const x of merged.byArea) console.log(`  ${pct(x.share)}  ${x.name}`);
  console.log('by function:');
  for (const x of merged.byFunction) console.log(`  ${pct(x.share)}  ${x.name}`);
}
