// `npm run bench -- probe [--n 4] [--points 200,400] [--seconds 10] [--latency 10] [--catchup 60]`: a quick
// diagnostic, not part of the suite. Runs load points against one fresh network (optionally with the p2p
// fault layer's added latency) and prints, per point, committed rate, latency and each validator's
// height, view and mempool afterwards; used to reproduce the overload stall of issue 9. With
// `--catchup S`, one validator then stays down S seconds under `--catchup-rate` load, restarts, and its
// catch-up is measured as in the suite (a longer gap than quick's 5 s). `--keep-chain DIR` keeps
// validator 0's home for `bench -- replay`. `--samples FILE` keeps each point's raw latency samples
// (FILE-<rate>.json) to see when in a run the slow transactions were sent. `--node-options=FLAGS` sets
// NODE_OPTIONS for the validators only (an A/B of V8 flags leaves the load generator as it is).
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchError } from './errors.ts';
import { atPlannedStart, BenchNetwork } from './real/bench-network.ts';
import { measureSync } from './real/real-bench.ts';
import { sampleProc, sampleThreadCpu, threadCoresBetween, usageBetween } from './real/proc.ts';
import {
  bytesPerTransaction,
  gcAndHeap,
  majorGcs,
  scrapeMetrics,
  stepTimings,
  trafficDelta,
  applyPhaseSeconds,
} from './real/step-timings.ts';
import { suitePlan } from './suite-plan.ts';

export async function main(argv: string[] = process.argv.slice(3)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string', default: '4' },
      points: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '10' },
      latency: { type: 'string', default: '0' },
      /** Message loss on every link through the p2p fault layer, as a fraction (0.01 = 1 %). */
      loss: { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      devices: { type: 'string', default: '64' },
      'keep-logs': { type: 'string' },
      /** Copy validator 0's home (keys, genesis, chain database) here after the run, for `bench -- replay`. */
      'keep-chain': { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      /** Seconds one validator stays down under load before it restarts and catches up (0: skip). */
      catchup: { type: 'string', default: '0' },
      'catchup-rate': { type: 'string', default: '300' },
      /** Directory for every validator's `--cpu-prof` profile (a restarted one writes a second file). */
      'cpu-prof': { type: 'string' },
      /** Write each point's raw latency samples (ms, in intended send order) to FILE-<rate>.json. */
      samples: { type: 'string' },
      /** NODE_OPTIONS for the validators only (V8 flags A/B, e.g. --max-semi-space-size=64). */
      'node-options': { type: 'string' },
      /** The chain's state-root interval k (ADR 0117): an A/B of the tree updated every k blocks. */
      'root-interval': { type: 'string' },
      /** 0: a chain without effects records (ADR 0133), for A/B; default 1. */
      'block-effects': { type: 'string' },
      /** 0: a chain whose blocks write no receipts root to the state (ADR 0123; needs --block-effects 0), for A/B. */
      'receipts-roots': { type: 'string' },
    },
    strict: true,
  });
  const latencyMs = Number(values.latency);
  const loss = Number(values.loss);
  // ADR 0133: the effects digest commits to the receipts, so a chain records effects only with receipts roots.
  if (values['receipts-roots'] === '0' && values['block-effects'] !== '0')
    throw new BenchError(
      'USAGE',
      '--receipts-roots 0 needs --block-effects 0 (effects records commit to the receipts)',
    );
  const b = await BenchNetwork.start({
    n: Number(values.n),
    seed: Number(values.seed),
    viewChangeTimeoutMs: 1_000,
    ...(values['root-interval'] !== undefined ? { stateRootInterval: Number(values['root-interval']) } : {}),
    ...(values['block-effects'] !== undefined ? { blockEffects: values['block-effects'] !== '0' } : {}),
    ...(values['receipts-roots'] !== undefined ? { receiptsRoots: values['receipts-roots'] !== '0' } : {}),
    env: {
      VIGIL_LOG_LEVEL: values['log-level'],
      ...(values['cpu-prof'] !== undefined || values['node-options'] !== undefined
        ? {
            NODE_OPTIONS: [
              values['node-options'] ?? '',
              values['cpu-prof'] !== undefined ? `--cpu-prof --cpu-prof-dir=${values['cpu-prof']}` : '',
            ]
              .join(' ')
              .trim(),
          }
        : {}),
    },
    ...(latencyMs > 0 || loss > 0
      ? {
          faults: {
            ...(latencyMs > 0 ? { latencyMs, jitterMs: latencyMs / 10 } : {}),
            ...(loss > 0 ? { loss } : {}),
          },
        }
      : {}),
  });
  try {
    await b.enrolDevices(Number(values.devices));
    for (const rate of values.points.split(',').map(Number)) {
      const prepared = await b.prepareLoad(
        { rate, durationS: Number(values.seconds), warmupS: 1, drainS: 4, batchSize: 50 },
        2,
      );
      const running = b.running();
      const metricsBefore = await Promise.all(running.map((i) => scrapeMetrics(b.nodes[i]!.apiUrl)));
      // From the planned start, not before the idle wait after pre-signing (bench-network.ts).
      const {
        started: [procBefore, threadsBefore],
        result: r,
        wallMs,
      } = await atPlannedStart(
        prepared.startMs,
        () =>
          [
            running.map((i) => sampleProc(b.nodes[i]!.pid ?? -1)),
            running.map((i) => sampleThreadCpu(b.nodes[i]!.pid ?? -1)),
          ] as const,
        () => b.runLoad(prepared),
      );
      const usage = running.map((i, k) => {
        const a = procBefore[k];
        const z = sampleProc(b.nodes[i]!.pid ?? -1);
        return a && z ? usageBetween(a, z, wallMs) : undefined;
      });
      const threadCores = running.map((i, k) => {
        const a = threadsBefore[k];
        const z = sampleThreadCpu(b.nodes[i]!.pid ?? -1);
        return a && z ? threadCoresBetween(a, z, wallMs) : null;
      });
      const metricsAfter = await Promise.all(running.map((i) => scrapeMetrics(b.nodes[i]!.apiUrl)));
      const scrapes = metricsBefore.map((m, k) => ({ before: m, after: metricsAfter[k]! }));
      const steps = stepTimings(scrapes);
      if (values.samples !== undefined)
        writeFileSync(
          `${values.samples}-${rate}.json`,
          JSON.stringify({
            rate,
            startMs: prepared.startMs,
            warmupMs: prepared.cfg.warmupMs,
            latencyMs: r.rawLatencyMs,
          }),
        );
      const st = await b.net.statuses();
      const traffic = trafficDelta(scrapes);
      console.log(
        JSON.stringify({
          rate,
          committedPerSec: Math.round(r.committed.ratePerSec),
          lost: r.committed.notCommittedAfterDrain,
          offered: r.offered.transactions,
          p50: Math.round(r.latencyMs.p50 ?? -1),
          p99: Math.round(r.latencyMs.p99 ?? -1),
          rejected: r.submitted.rejected,
          steps,
          applyPhaseSeconds: applyPhaseSeconds(scrapes),
          majorGc: majorGcs(scrapes),
          ...gcAndHeap(scrapes),
          traffic,
          // p2p bytes all validators sent per transaction applied, by protocol and consensus kind.
          bytesPerTx: bytesPerTransaction(traffic) ?? null,
          // Per validator over the point (warm-up, load and drain): CPU cores busy, storage MiB/s written.
          cpuCores: usage.map((u) => (u ? Number(u.cpuCores.toFixed(2)) : null)),
          // The same CPU by kind of thread (main, LevelDB's pool, V8's GC helpers, verification workers).
          threadCores,
          diskMiBPerSec: usage.map((u) =>
            u?.diskWriteMiBPerSec !== undefined ? Number(u.diskWriteMiBPerSec.toFixed(2)) : null,
          ),
          nodes: st.map(
            (s) =>
              s && {
                h: s.height,
                v: s.view,
                ...(s.viewActive ? {} : { changing: true }),
                mp: s.mempool.size,
                ready: s.mempool.ready,
              },
          ),
        }),
      );
    }
    const gapS = Number(values.catchup);
    if (gapS > 0) {
      const cfg = suitePlan('quick', Number(values.seed)).real[0]!;
      const sync = await measureSync(b, b.n - 1, {
        ...cfg,
        faultRate: Number(values['catchup-rate']),
        syncGapS: gapS,
      });
      console.log(JSON.stringify({ catchup: sync }));
    }
  } finally {
    if (values['keep-logs'] !== undefined) {
      mkdirSync(values['keep-logs'], { recursive: true });
      for (const v of b.nodes)
        copyFileSync(join(v.home, 'node.log'), join(values['keep-logs'], `node${v.index}.log`));
    }
    if (values['keep-chain'] !== undefined) {
      // Stopped first: LevelDB's files are consistent only once the process has closed them.
      await b.net.stopAll();
      cpSync(b.nodes[0]!.home, values['keep-chain'], { recursive: true });
    }
    await b.stop();
  }
}
