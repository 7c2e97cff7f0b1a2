// `npm run bench -- profile [--n 4] [--rate 100] [--seconds 15] [--seed 1]`: runs a real network with
// every validator under `node --cpu-prof` (through NODE_OPTIONS), offers a steady load, stops the
// validators (SIGTERM: an orderly exit writes the profile) and prints where their CPU went, by kind of
// work (cpu-components.ts), by area of the code base and by function. Writes bench/results/profile-<time>.json; the .cpuprofile files stay in
// the printed directory for Chrome DevTools or speedscope.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { profileNetwork } from './profile-network.ts';
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
  const p = await profileNetwork({
    n: Number(values.n),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    seed: Number(values.seed),
    devices: 32,
    batchSize: 10,
  });
  const { merged, dir } = p;
  const out = {
    tool: 'vigil bench profile',
    finishedAt: new Date().toISOString(),
    gitCommit: gitState(REPO).commit,
    machine: machineInfo(),
    config: p.options,
    load: {
      committedTxPerSec: p.committedTxPerSec,
      p50LatencyMs: p.p50LatencyMs,
      p99LatencyMs: p.p99LatencyMs,
    },
    profileDir: dir,
    components: p.components,
    merged,
    perThread: p.perThread,
  };
  const results = join(REPO, 'bench/results');
  mkdirSync(results, { recursive: true });
  const file = join(results, `profile-${out.finishedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
  console.log(`profiles in ${dir}; summary in ${file}`);
  console.log(
    `${p.threads} thread profiles, ${merged.busySamples} busy samples; committed ${p.committedTxPerSec.toFixed(0)} tx/s, p50 ${p.p50LatencyMs?.toFixed(0)} ms, p99 ${p.p99LatencyMs?.toFixed(0)} ms`,
  );
  console.log('by component (all validator threads):');
  for (const x of p.components) console.log(`  ${pct(x.share)}  ${x.name}`);
  console.log('by area (self time, all validators):');
  for (const x of merged.byArea) console.log(`  ${pct(x.share)}  ${x.name}`);
  console.log('by function:');
  for (const x of merged.byFunction) console.log(`  ${pct(x.share)}  ${x.name}`);
}
