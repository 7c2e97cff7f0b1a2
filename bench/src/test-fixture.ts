// A small, fully synthetic suite record for the record/report tests (no benchmark is run).
import type { RealLoadPoint, RealResult } from './real/real-bench.ts';
import { type BenchRecord, RECORD_SCHEMA } from './record.ts';
import type { SimPoint } from './sim-bench.ts';
import { suitePlan } from './suite-plan.ts';

export function point(offered: number, p50: number, p99: number): RealLoadPoint {
  return {
    offeredTxPerSec: offered,
    committedTxPerSec: offered * 0.95,
    submittedTxPerSec: offered,
    p50LatencyMs: p50,
    p90LatencyMs: (p50 + p99) / 2,
    p99LatencyMs: p99,
    notCommitted: 0,
    measured: offered * 4,
    rejected: offered > 300 ? { ACCOUNT_LIMIT: 3 } : {},
    eventReconnects: 0,
    validators: [0, 1, 2, 3].map((index) => ({ index, cpuCores: 0.4, rssMiB: 150, peakRssMiB: 180 })),
    rawLatencyMs: [p50, p50, p99],
    dispatchLagP99Ms: 2,
    viewsAfter: [0, 1, 2, 3].map((index) => ({
      index,
      view: offered > 300 && index === 3 ? 1 : 0,
      height: offered * 10,
    })),
    steps: {
      blockApply: {
        count: 80,
        over250ms: offered > 300 ? 3 : 0,
        over1s: offered > 300 ? 1 : 0,
        slowestAtMostS: offered > 300 ? 2 : 0.1,
      },
      blockWrite: { count: 80, over250ms: 0, over1s: 0, slowestAtMostS: 0.025 },
      consensusPersist: { count: 240, over250ms: offered > 300 ? 2 : 0, over1s: 0, slowestAtMostS: 0.5 },
    },
    // The 100 tx/s point predates the traffic counters (a record from before 2026-12-05).
    ...(offered === 100
      ? {}
      : {
          traffic: {
            gossipReceived: offered * 15,
            gossipAdmitted: offered * 12,
            gossipRefused: offered > 300 ? { DUPLICATE_TX: offered * 2, NONCE_TOO_LOW: offered } : {},
            reoffered: offered > 300 ? offered * 3 : 0,
            messagesOut: { consensus: 4_000, txgossip: offered * 15, sync: 0, status: 120 },
            bytesOut: { consensus: 25_000_000, txgossip: offered * 40_000, sync: 0, status: 9_000 },
          },
        }),
    settle: {
      backlogBefore: offered > 300 ? [900, 1_000, 950, 1_000] : [0, 0, 0, 0],
      resent: offered > 300 ? 120 : 0,
      resendRounds: offered > 300 ? 2 : 0,
      settleMs: offered > 300 ? 7_400 : 20,
      idle: true,
      backlogAfter: [0, 0, 0, 0],
    },
  };
}

function simPoint(n: number, batch: number, silent: number, thr: number): SimPoint {
  const run = {
    seed: 1,
    txsSubmitted: 100,
    txsCommitted: 100,
    commits: 10,
    throughputTxPerSec: thr,
    p50LatencyMs: 20,
    p99LatencyMs: 40,
    meanTxsPerBlock: 10,
    violations: 0,
    reproduce: 'npm run sim -- ...',
  };
  return {
    n,
    batch,
    silent,
    capacity: [run],
    latency: [run],
    throughputTxPerSec: { min: thr, median: thr, max: thr, n: 1 },
    p50LatencyMs: { min: 20, median: 20, max: 20, n: 1 },
    p99LatencyMs: { min: 40, median: 40, max: 40, n: 1 },
    perBlock: { PREPARE: { count: 3 * n, bytes: 100 * n }, COMMIT: { count: 4 * n, bytes: 110 * n } },
  };
}

export function fixtureRecord(): BenchRecord {
  const plan = suitePlan('quick', 1);
  const real: RealResult = {
    n: 4,
    condition: 'loopback',
    faults: null,
    config: plan.real[0]!,
    startupMs: 8_000,
    viewChange: {
      killedPrimary: 0,
      offeredTxPerSec: 100,
      resumeMs: 1_800,
      firstBlockAfterKillMs: 40,
      viewAfter: 1,
      viewChangeTimeoutMs: 1_000,
      timeline: [
        { atMs: -2_000, view: 0, height: 10 },
        { atMs: 1_300, view: 1, height: 14 },
      ],
    },
    sync: {
      node: 0,
      gapBlocks: 40,
      gapTxs: 2_000,
      fromRestartMs: 3_000,
      fromFirstProgressMs: 500,
      blocksPerSec: 80,
      txPerSec: 4_000,
    },
    sweep: [point(100, 50, 200), point(200, 60, 400), point(400, 900, 4_000)],
    knee: { kneeTxPerSec: 200, saturatedAtTxPerSec: 400, maxCommittedTxPerSec: 380 },
    belowKnee: {
      offeredTxPerSec: 180,
      repeats: [point(180, 55, 300)],
      throughputTxPerSec: { min: 171, median: 171, max: 171, n: 1 },
      p50LatencyMs: { min: 55, median: 55, max: 55, n: 1 },
      p99LatencyMs: { min: 300, median: 300, max: 300, n: 1 },
    },
    errors: [],
  };
  return {
    schema: RECORD_SCHEMA,
    mode: 'quick',
    startedAt: '2026-11-22T05:00:00.000Z',
    finishedAt: '2026-11-22T05:03:00.000Z',
    wallSeconds: 180,
    gitCommit: 'a'.repeat(40),
    gitDirty: false,
    machine: {
      cpuModel: 'Test CPU',
      cores: 2,
      availableParallelism: 2,
      memoryBytes: 8 * 2 ** 30,
      platform: 'linux 6',
      arch: 'x64',
      node: 'v24.0.0',
      loadAverage: [1, 1, 1],
    },
    seed: 1,
    command: 'npm run bench -- --quick',
    config: { ...plan },
    ceiling: { rawVerifyPerSec: 20_000, method: 'test' },
    node: { execTxPerSec: 9_000, rawVerifyPerSec: 20_000, ratio: 0.45, raw: {} },
    sim: {
      calibration: { signMs: 0.05, verifyMs: 0.12, samples: 10, method: 'test' },
      config: plan.sim,
      caveats: ['a caveat'],
      points: [
        simPoint(4, 1, 0, 50),
        simPoint(4, 10, 0, 600),
        simPoint(4, 10, 1, 400),
        simPoint(7, 1, 0, 40),
        simPoint(7, 10, 0, 500),
      ],
      viewChange: [
        {
          n: 4,
          durationsMs: [30, 35],
          resumeMs: { min: 30, median: 32.5, max: 35, n: 2 },
          viewChangeTimeoutMs: 300,
        },
      ],
      wallMs: 1_000,
    },
    real: [real],
    errors: [],
  };
}
