// `npm run bench -- --quick` and `npm run bench` (the full sweep): runs the simulated, node and real
// benchmarks, writes one JSON record per run plus a Markdown report with SVG charts to bench/results/,
// and (quick runs) bench/results/latest.json with the headline numbers. Options:
//   --quick            the <= 3 minute subset (default: full sweep, which takes hours)
//   --extended         quick's settings on every real network of the full sweep (~10 minutes)
//   --seed N           seed of keys, corpora and simulations (default 1)
//   --only LIST        comma-separated subset of sim,node,real (default all)
//   --networks LIST    comma-separated subset of the mode's real networks, by name (n4-loopback,
//                      n7-loopback, n4-latency-10-ms, n4-latency-50-ms, n4-latency-100-ms, n4-loss-1)
//   --out DIR          results directory (default bench/results)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchError } from './errors.ts';
import { type RealResult, runRealSuite } from './real/real-bench.ts';
import { measureCeiling } from './raw-verify.ts';
import {
  type BenchRecord,
  type BottleneckProfile,
  type CeilingSample,
  ceilingFromSamples,
  gitState,
  machineInfo,
  type NodeExecResult,
  RECORD_SCHEMA,
  summarise,
  validateLatest,
  validateRecord,
} from './record.ts';
import { profileNetwork } from './profile-network.ts';
import { renderReport } from './report.ts';
import { calibrateCrypto, runSimSuite } from './sim-bench.ts';
import { networkSlug, suitePlan } from './suite-plan.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

async function runNodeExec(): Promise<NodeExecResult> {
  const { runNodeExecBench } = await import('./node-exec.ts');
  const raw = await runNodeExecBench();
  return {
    execTxPerSec: raw.txPerSecond as number,
    rawVerifyPerSec: raw.rawVerifyPerSecond as number,
    ratio: raw.ratio as number,
    raw,
  };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      extended: { type: 'boolean' },
      seed: { type: 'string' },
      only: { type: 'string' },
      networks: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (values.quick && values.extended) throw new BenchError('USAGE', 'give --quick or --extended, not both');
  const mode = values.quick ? 'quick' : values.extended ? 'extended' : 'full';
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new BenchError('USAGE', '--seed must be a non-negative integer');
  const only = new Set((values.only ?? 'sim,node,real').split(',').map((s) => s.trim()));
  for (const o of only)
    if (!['sim', 'node', 'real'].includes(o)) throw new BenchError('USAGE', `--only: unknown part ${o}`);
  const outDir = resolve(values.out ?? join(REPO, 'bench/results'));
  mkdirSync(outDir, { recursive: true });
  const plan = suitePlan(mode, seed);
  if (values.networks !== undefined) {
    const wanted = values.networks.split(',').map((s) => s.trim());
    const known = plan.real.map(networkSlug);
    for (const w of wanted)
      if (!known.includes(w))
        throw new BenchError(
          'USAGE',
          `--networks: ${w} is not a network of the ${mode} run (${known.join(', ')})`,
        );
    plan.real = plan.real.filter((x) => wanted.includes(networkSlug(x)));
  }
  const t0 = performance.now();
  const started = new Date();
  const log = (s: string) =>
    console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);
  const errors: string[] = [];
  const git = gitState(REPO);
  const machine = machineInfo();
  log(
    `${mode} run, seed ${seed}, commit ${git.commit?.slice(0, 12) ?? 'unknown'}, ${machine.cpuModel} x ${machine.cores}`,
  );

  // Node execution and the all-core raw verification rate first, on an otherwise idle machine: the
  // raw rate is the physical ceiling every real throughput is compared with.
  let node: NodeExecResult | null = null;
  const ceilingSamples: CeilingSample[] = [];
  if (only.has('node') || only.has('real')) {
    try {
      node = await runNodeExec();
      ceilingSamples.push({
        label: 'start',
        at: new Date().toISOString(),
        rawVerifyPerSec: node.rawVerifyPerSec,
        cpuUsPerSignature: (node.raw.rawVerifyCpuUsPerSignature as number | undefined) ?? Number.NaN,
      });
      log(
        `node: ${node.execTxPerSec.toFixed(0)} tx/s executed; raw verify ${node.rawVerifyPerSec.toFixed(0)}/s on all cores`,
      );
    } catch (e) {
      errors.push(`node: ${(e as Error).message}`);
    }
  }
  /** Another ceiling sample (before each real network and at the end: ~1-2 s each on an idle machine). */
  const sampleCeiling = async (label: string) => {
    try {
      const c = await measureCeiling(label);
      ceilingSamples.push(c);
      log(`ceiling sample (${label}): raw verify ${c.rawVerifyPerSec.toFixed(0)}/s on all cores`);
    } catch (e) {
      errors.push(`ceiling sample ${label}: ${(e as Error).message}`);
    }
  };
  let sim: BenchRecord['sim'] = null;
  if (only.has('sim')) {
    try {
      sim = runSimSuite(plan.sim, calibrateCrypto(), log);
    } catch (e) {
      errors.push(`sim: ${(e as Error).message}`);
    }
  }
  const real: RealResult[] = [];
  let bottleneck: BottleneckProfile | null = null;
  const name = `${mode}-${stamp(started)}`;
  const build = (finished: Date): BenchRecord => ({
    schema: RECORD_SCHEMA,
    mode,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    wallSeconds: (performance.now() - t0) / 1000,
    gitCommit: git.commit,
    gitDirty: git.dirty,
    machine,
    seed,
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    config: { ...plan, only: [...only] },
    ceiling: {
      rawVerifyPerSec: ceilingFromSamples(ceilingSamples),
      method:
        'node:crypto ed25519 verify in one worker thread per core, no messaging in the loop (bench/src/raw-verify-worker.ts); the median of the samples taken at the start, before each real network and at the end',
      samples: [...ceilingSamples],
    },
    node,
    sim,
    real,
    bottleneck,
    errors,
  });
  if (only.has('real')) {
    // A full sweep takes hours: after every measurement the record so far (the network in progress
    // included) is written to a .partial.json, so a run stopped or crashed part-way keeps what it
    // measured (`npm run bench -- render` renders it). Removed once the record is written.
    const partialPath = join(outDir, `${name}.partial.json`);
    for (const cfg of plan.real) {
      await sampleCeiling(`before ${networkSlug(cfg)}`);
      try {
        real.push(
          await runRealSuite(cfg, log, (partial) => {
            const r = build(new Date());
            writeFileSync(partialPath, `${JSON.stringify({ ...r, real: [...r.real, partial] }, null, 1)}\n`);
          }),
        );
      } catch (e) {
        errors.push(`real n=${cfg.n} ${cfg.condition}: ${(e as Error).message}`);
      }
      writeFileSync(partialPath, `${JSON.stringify(build(new Date()), null, 1)}\n`);
    }
    await sampleCeiling('end');
    // Where the CPU goes just below the n = 4 knee, so the report can name the bottleneck with its
    // share (issue 9). A separate run: the profiler's own cost must not be in the measured points.
    const n4 = real.find((x) => x.config.n === 4 && x.config.condition === 'loopback');
    const rate = n4?.belowKnee?.offeredTxPerSec ?? n4?.knee.kneeTxPerSec;
    if (n4 !== undefined && rate !== undefined && rate !== null && rate > 0) {
      const seconds = mode === 'quick' ? 8 : 20;
      log(`profiling the n = 4 validators at ${rate} tx/s for ${seconds} s`);
      try {
        const p = await profileNetwork({
          n: 4,
          rate,
          seconds,
          seed,
          devices: n4.config.devices,
          batchSize: n4.config.batchSize,
        });
        bottleneck = {
          network: networkSlug(n4.config),
          offeredTxPerSec: rate,
          seconds,
          committedTxPerSec: p.committedTxPerSec,
          p99LatencyMs: p.p99LatencyMs,
          threads: p.threads,
          busySamples: p.merged.busySamples,
          startupSamples: p.startupSamples,
          components: p.components,
          topFunctions: p.topFunctions,
        };
        rmSync(p.dir, { recursive: true, force: true });
      } catch (e) {
        errors.push(`profile: ${(e as Error).message}`);
      }
    }
  }
  const record = build(new Date());
  // Written before it is validated: a run's measurements are never lost to a check of their shape.
  const recordPath = join(outDir, `${name}.json`);
  writeFileSync(recordPath, `${JSON.stringify(record, null, 1)}\n`);
  rmSync(join(outDir, `${name}.partial.json`), { force: true });
  validateRecord(record);
  const rel = relative(REPO, recordPath);
  const report = renderReport(record, rel, name);
  writeFileSync(join(outDir, `${name}.md`), report.markdown);
  for (const [file, svg] of Object.entries(report.charts)) writeFileSync(join(outDir, file), svg);
  const latest = summarise(record, rel);
  if (record.real.some((x) => x.n === 4 && x.condition === 'loopback')) validateLatest(latest);
  writeFileSync(
    // latest.json is the quick run's (issue #9); the other modes keep their own latest file.
    join(outDir, mode === 'quick' ? 'latest.json' : `latest-${mode}.json`),
    `${JSON.stringify(latest, null, 2)}\n`,
  );
  log(`wrote ${rel}, ${name}.md and ${Object.keys(report.charts).length} charts`);
  console.log(JSON.stringify(latest, null, 2));
}
