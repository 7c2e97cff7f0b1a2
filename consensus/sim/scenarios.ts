// The named scenarios (issue #3). Each builder takes n and a PRNG and returns plain data: where faults
// land (which replica crashes, when a partition starts, who is Byzantine) is drawn per seed, so running
// a scenario over many seeds explores many placements, and (name, n, seed) rebuilds one exactly.
//
// Every scenario keeps to PBFT's assumptions: at most f = floor((n-1)/3) replicas are faulty (crashed,
// silent or Byzantine) at any time, and the network is asynchronous only until GST (partial synchrony,
// DLS 1988). The liveness bound is the time, after max(submission, GST), within which every transaction
// must be committed by f+1 correct replicas; it allows for the view-change timeouts a scenario provokes
// (they double per failed view change, §4.5.2).

import { maxFaulty } from '../src/pbft/quorum.ts';
import { LAN, type LinkProfile, type NetworkConfig } from './network.ts';
import { Prng } from './prng.ts';
import { CITATION_BOUND_MS, type Mutations, type ReplicaTuning, type ScenarioSpec } from './scenario.ts';

export const CHAIN_ID = 'vigil-sim';

const TUNING: ReplicaTuning = {
  checkpointInterval: 4,
  windowSize: 16,
  maxBlockTxs: 8,
  maxBlockBytes: 16_384,
  viewChangeTimeoutMs: 300,
  maxClockSkewMs: 2_000,
};

const WAN: LinkProfile = { ...LAN, latency: { kind: 'uniform', minMs: 2, maxMs: 12 } };

/** Test-only replica mutations the checker must catch ("the checker can fail"). */
export const Mutants = {
  /** Quorum of 2f instead of 2f+1: two disjoint-enough sets can certify conflicting blocks. */
  'quorum-2f': (n: number): Mutations => ({ quorumOverride: 2 * maxFaulty(n) }),
  /** A NEW-VIEW built and accepted without the prepared certificates (§4.5.2 skipped). */
  'new-view-without-proof': (): Mutations => ({ acceptNewViewWithoutPreparedProof: true }),
  /** Replicas ignore validator-set changes: the old set certifies blocks of the new epoch (ADR 0015). */
  'ignore-reconfiguration': (): Mutations => ({ ignoreReconfiguration: true }),
} as const;
export type MutantName = keyof typeof Mutants;

interface Draft {
  description: string;
  byzantine?: ScenarioSpec['byzantine'];
  crashes?: ScenarioSpec['crashes'];
  partitions?: ScenarioSpec['partitions'];
  network?: NetworkConfig;
  starveCommits?: ScenarioSpec['starveCommits'];
  clockRates?: number[];
  clockOffsetsMs?: number[];
  /** Defaults to the end of the last fault. */
  gstMs?: number;
  livenessBoundMs: number;
  txCount?: number;
  meanIntervalMs?: number;
  genesisSize?: number;
  reconfigurations?: ScenarioSpec['reconfigurations'];
  quietGaps?: { everyTxs: number; gapMs: number };
}

type Builder = (n: number, prng: Prng) => Draft;

function others(n: number, except: number): number[] {
  return Array.from({ length: n }, (_, i) => i).filter((i) => i !== except);
}

const BUILDERS: Readonly<Record<string, Builder>> = {
  normal: () => ({ description: 'no faults, LAN latencies', livenessBoundMs: 1_000 }),

  lossy: () => ({
    description: '8% message loss on every link until GST at 2s',
    network: { default: { ...WAN, loss: 0.08 } },
    gstMs: 2_000,
    livenessBoundMs: 5_000,
  }),

  'reorder-dup': (n, prng) => {
    const base: LinkProfile = {
      latency: { kind: 'uniform', minMs: 1, maxMs: 25 },
      loss: 0,
      duplicate: 0.15,
      reorder: 0.3,
      reorderMs: 80,
    };
    // One replica sits far away: its links (both ways) are slower and have rare 200ms spikes.
    const far = prng.int(n);
    const slow: LinkProfile = {
      ...base,
      latency: { kind: 'spiky', minMs: 10, maxMs: 40, spikeProbability: 0.05, spikeMs: 200 },
    };
    const links: Record<string, LinkProfile> = {};
    for (const j of others(n, far)) {
      links[`${far}->${j}`] = slow;
      links[`${j}->${far}`] = slow;
    }
    return {
      description:
        'wide latency spread, 30% of messages delayed up to 80ms, 15% duplicated; one far replica with spiky links',
      network: { default: base, links },
      livenessBoundMs: 1_500,
    };
  },

  'partition-heal': (n, prng) => {
    const at = 100 + prng.range(0, 200);
    const heal = at + 600 + prng.range(0, 900);
    const order = prng.shuffled(Array.from({ length: n }, (_, i) => i));
    // Half the seeds split the network in two halves (no side has a quorum); the other half cut off a
    // minority of f replicas, which must catch up after the heal.
    const cut = prng.chance(0.5) ? Math.floor(n / 2) : maxFaulty(n);
    return {
      description: 'a partition (two halves, or f replicas cut off) from ~0.1s, healed 0.6-1.5s later',
      partitions: [{ atMs: at, healAtMs: heal, groups: [order.slice(0, cut), order.slice(cut)] }],
      livenessBoundMs: 5_000,
    };
  },

  'crash-backup': (n, prng) => {
    const r = 1 + prng.int(n - 1);
    const at = 100 + prng.range(0, 300);
    return {
      description: 'one backup crashes and restarts from its persisted records',
      crashes: [{ replica: r, atMs: at, restartAtMs: at + 300 + prng.range(0, 900) }],
      livenessBoundMs: 2_000,
    };
  },

  'lost-records': (n, prng) => {
    const r = 1 + prng.int(n - 1);
    const at = 100 + prng.range(0, 300);
    return {
      description:
        'one backup crashes and comes back without its PBFT records (a lost disk): it observes until it cannot contradict its past votes, then votes (ADR 0121)',
      crashes: [{ replica: r, atMs: at, restartAtMs: at + 200 + prng.range(0, 600), loseRecords: true }],
      // Traffic for well past recoverAfter (restart + 2 x the 2 s skew), so that the recovery ends.
      txCount: 80,
      meanIntervalMs: 100,
      livenessBoundMs: 3_000,
    };
  },

  'quiet-gaps': (_n, prng) => {
    // The primary of view 0 crashes somewhere in the run (often in a quiet gap, when it may be proposing
    // a block without transactions) and comes back; links lose 3 % until GST.
    const at = 300 + prng.range(0, 2_500);
    return {
      description:
        'bursts of 10 transactions with ~0.8 s of quiet between them (idle primaries cite the quiet state, ADR 0125); the view-0 primary crashes and restarts; 3% loss until GST',
      quietGaps: { everyTxs: 10, gapMs: 600 + prng.range(0, 400) },
      txCount: 50,
      crashes: [{ replica: 0, atMs: at, restartAtMs: at + 400 + prng.range(0, 800) }],
      network: { default: { ...WAN, loss: 0.03 } },
      gstMs: 4_000,
      livenessBoundMs: 3_000,
    };
  },

  'quiet-primary-crash': (_n, prng) => ({
    // ADR 0128: the primary crashes for good in the final quiet period, around when it would cite the
    // last transactions' state (before, while or after it proposes). Nothing is pending, so only the
    // backups' expectation of the citation can start the view change whose primary cites.
    description:
      'bursts with quiet gaps; the view-0 primary crashes for good 50-350 ms after the last submission, in the final quiet period: the backups must replace it and get the state cited (ADR 0128)',
    quietGaps: { everyTxs: 10, gapMs: 600 + prng.range(0, 400) },
    txCount: 30,
    crashes: [{ replica: 0, atMs: 50 + prng.range(0, 300), afterLastSubmit: true }],
    livenessBoundMs: 3_000,
  }),

  'crash-primary': (_n, prng) => ({
    description: 'the primary of view 0 crashes for good: a view change must follow',
    crashes: [{ replica: 0, atMs: 100 + prng.range(0, 300) }],
    livenessBoundMs: 3_000,
  }),

  'lone-commit-primary-crash': (_n, prng) => ({
    description:
      'only the view-0 primary receives view-0 COMMITs (it alone commits; the others just prepare), then it crashes for good',
    starveCommits: { view: 0, exceptTo: 0 },
    crashes: [{ replica: 0, atMs: 150 + prng.range(0, 250) }],
    livenessBoundMs: 3_000,
  }),

  'repeated-primary-crash': (n, prng) => {
    const crashes: { replica: number; atMs: number; restartAtMs: number }[] = [];
    let t = 100 + prng.range(0, 200);
    for (let k = 0; k < 3; k++) {
      const restart = t + 500 + prng.range(0, 500);
      crashes.push({ replica: k % n, atMs: t, restartAtMs: restart });
      t = restart + 100 + prng.range(0, 300);
    }
    return {
      description: 'the primaries of views 0, 1 and 2 crash one after another, each restarting',
      crashes,
      txCount: 30,
      meanIntervalMs: 50,
      livenessBoundMs: 5_000,
    };
  },

  'clock-skew': (n, prng) => ({
    description: 'clock rates 0.5x-2x and offsets up to 0.5s per replica; the primary crashes',
    clockRates: Array.from({ length: n }, () => prng.range(0.5, 2)),
    clockOffsetsMs: Array.from({ length: n }, () => prng.range(0, 500)),
    crashes: [{ replica: 0, atMs: 150 + prng.range(0, 300) }],
    livenessBoundMs: 5_000,
  }),

  'silent-f': (n, prng) => ({
    description: 'f random replicas (perhaps the primary) never send anything',
    byzantine: prng
      .shuffled(Array.from({ length: n }, (_, i) => i))
      .slice(0, maxFaulty(n))
      .map((replica) => ({ replica, behaviour: 'silent' as const })),
    livenessBoundMs: 3_000,
  }),

  'equivocating-primary': () => ({
    description: 'the primary sends conflicting PRE-PREPAREs (and matching COMMITs) to two halves',
    byzantine: [{ replica: 0, behaviour: 'equivocate' }],
    livenessBoundMs: 3_000,
  }),

  'invalid-signatures': (n, prng) => ({
    description: 'f random replicas corrupt the signature of everything they send',
    byzantine: prng
      .shuffled(Array.from({ length: n }, (_, i) => i))
      .slice(0, maxFaulty(n))
      .map((replica) => ({ replica, behaviour: 'bad-signatures' as const })),
    livenessBoundMs: 3_000,
  }),

  replays: (n, prng) => ({
    description: 'f random replicas re-send old messages (their own and others) to random peers',
    byzantine: prng
      .shuffled(Array.from({ length: n }, (_, i) => i))
      .slice(0, maxFaulty(n))
      .map((replica) => ({ replica, behaviour: 'replay' as const })),
    network: { default: { ...WAN, reorder: 0.1, reorderMs: 50 } },
    livenessBoundMs: 2_000,
  }),

  'forged-view-change': (n, prng) => {
    const at = 150 + prng.range(0, 200);
    const heal = at + 800 + prng.range(0, 700);
    return {
      description:
        'f backups send VIEW-CHANGEs with forged or stale prepared certificates; the primary is cut off',
      byzantine: prng
        .shuffled(others(n, 0))
        .slice(0, maxFaulty(n))
        .map((replica) => ({ replica, behaviour: 'forge-view-change' as const })),
      partitions: [{ atMs: at, healAtMs: heal, groups: [[0], others(n, 0)] }],
      livenessBoundMs: 5_000,
    };
  },

  'new-view-omits-prepared': (n, prng) => {
    const at = 150 + prng.range(0, 200);
    const heal = at + 800 + prng.range(0, 700);
    return {
      description:
        'the primary of view 1 sends a NEW-VIEW whose O set drops the prepared blocks; view 0 primary cut off',
      byzantine: [{ replica: 1 % n, behaviour: 'new-view-omits-prepared' }],
      partitions: [{ atMs: at, healAtMs: heal, groups: [[0], others(n, 0)] }],
      network: { default: { ...WAN, loss: 0.03 } },
      livenessBoundMs: 5_000,
    };
  },

  'new-view-swaps-blocks': (n, prng) => {
    const at = 150 + prng.range(0, 200);
    const heal = at + 800 + prng.range(0, 700);
    // Then the view-1 primary is cut off, so the group needs a second view change: the VIEW-CHANGEs
    // of backups that prepared the swapped PRE-PREPAREs must still be valid.
    const isolate = heal + 300 + prng.range(0, 300);
    const byzantine = 1 % n;
    return {
      description:
        "the primary of view 1 sends a NEW-VIEW whose PRE-PREPAREs name the prepared blocks' hashes but carry empty blocks; view 0 primary cut off, then the view 1 primary",
      byzantine: [{ replica: byzantine, behaviour: 'new-view-swaps-blocks' }],
      partitions: [
        { atMs: at, healAtMs: heal, groups: [[0], others(n, 0)] },
        {
          atMs: isolate,
          healAtMs: isolate + 800 + prng.range(0, 700),
          groups: [[byzantine], others(n, byzantine)],
        },
      ],
      network: { default: { ...WAN, loss: 0.03 } },
      livenessBoundMs: 5_000,
    };
  },

  reconfiguration: (n, prng) => {
    // Node n-1 is not a genesis validator: the block at height 3 adds it (epoch 1 from height 9, K = 4),
    // the block at height 14 removes a random genesis validator (epoch 2 from height 21). One node
    // (maybe the joining or the leaving one) crashes and restarts around the boundaries, and 3% of
    // messages are lost until GST.
    const removed = prng.int(n - 1);
    const all = Array.from({ length: n }, (_, i) => i);
    const crashed = prng.int(n);
    const at = 150 + prng.range(0, 900);
    return {
      description:
        'a validator joins at the checkpoint after next, then another leaves; a crash and 3% loss around the boundaries',
      genesisSize: n - 1,
      reconfigurations: [
        { decidedAt: 3, validators: all },
        { decidedAt: 14, validators: all.filter((i) => i !== removed) },
      ],
      crashes: [{ replica: crashed, atMs: at, restartAtMs: at + 300 + prng.range(0, 900) }],
      network: { default: { ...WAN, loss: 0.03 } },
      // Bursts keep many heights in flight, so proposals run ahead of execution across the boundary.
      txCount: 160,
      meanIntervalMs: 4,
      livenessBoundMs: 5_000,
    };
  },

  twins: (n, prng) => {
    const r = prng.chance(0.5) ? 0 : prng.int(n);
    const rest = prng.shuffled(others(n, r));
    return {
      description:
        'one replica runs as two correct instances ("twins") under one key, each with half the peers',
      byzantine: [{ replica: r, behaviour: 'twins', twinGroup: rest.slice(0, Math.floor(rest.length / 2)) }],
      livenessBoundMs: 3_000,
    };
  },
};

export const SCENARIO_NAMES: readonly string[] = Object.keys(BUILDERS);
export const DEFAULT_SIZES: readonly number[] = [4, 7, 10];

export class UnknownScenarioError extends Error {
  readonly code = 'UNKNOWN_SCENARIO';
  constructor(name: string) {
    super(`unknown scenario "${name}"; known: ${SCENARIO_NAMES.join(', ')}`);
    this.name = 'UnknownScenarioError';
  }
}

export interface BuildOptions {
  mutant?: MutantName;
  realCrypto?: boolean;
  cpu?: ScenarioSpec['cpu'];
}

/** The scenario `name` for n replicas, with its fault placement drawn from `seed`. */
export function buildScenario(
  name: string,
  n: number,
  seed: number,
  options: BuildOptions = {},
): ScenarioSpec {
  const builder = BUILDERS[name];
  if (builder === undefined) throw new UnknownScenarioError(name);
  if (!Number.isSafeInteger(n) || n < 4) throw new RangeError(`n must be an integer >= 4, got ${n}`);
  // Placement draws come from their own stream, unrelated to the run's (which is Prng(seed)).
  const d = builder(n, new Prng(seed).fork().fork());
  const txCount = d.txCount ?? 16;
  const meanIntervalMs = d.meanIntervalMs ?? 25;
  const gaps =
    d.quietGaps === undefined ? 0 : Math.floor((txCount - 1) / d.quietGaps.everyTxs) * d.quietGaps.gapMs;
  const workloadEnd = 5 + 2 * txCount * meanIntervalMs + gaps;
  const lastFault = Math.max(
    0,
    ...(d.crashes ?? []).map(
      // A crash relative to the last submission happens at most this long after the workload's end.
      (c) => (c.afterLastSubmit === true ? workloadEnd : 0) + (c.restartAtMs ?? c.atMs),
    ),
    ...(d.partitions ?? []).map((p) => p.healAtMs),
  );
  const gstMs = d.gstMs ?? lastFault;
  return {
    name,
    description: d.description,
    n,
    ...(d.genesisSize !== undefined ? { genesisSize: d.genesisSize } : {}),
    ...(d.reconfigurations !== undefined ? { reconfigurations: d.reconfigurations } : {}),
    chainId: CHAIN_ID,
    byzantine: d.byzantine ?? [],
    crashes: d.crashes ?? [],
    partitions: d.partitions ?? [],
    network: d.network ?? { default: WAN },
    ...(d.starveCommits ? { starveCommits: d.starveCommits } : {}),
    ...(d.clockRates ? { clockRates: d.clockRates } : {}),
    ...(d.clockOffsetsMs ? { clockOffsetsMs: d.clockOffsetsMs } : {}),
    workload: {
      txCount,
      clients: 4,
      startMs: 5,
      meanIntervalMs,
      ...(d.quietGaps !== undefined ? { quietGaps: d.quietGaps } : {}),
    },
    gstMs,
    livenessBoundMs: d.livenessBoundMs,
    // Room for the state citation after everything settled (ADR 0128).
    maxTimeMs: Math.max(gstMs, workloadEnd) + d.livenessBoundMs + 1_000 + CITATION_BOUND_MS,
    tickIntervalMs: 100,
    replica: TUNING,
    ...(options.mutant ? { mutant: options.mutant, mutations: Mutants[options.mutant](n) } : {}),
    ...(options.cpu ? { cpu: options.cpu } : {}),
    ...(options.realCrypto ? { realCrypto: true } : {}),
  };
}
