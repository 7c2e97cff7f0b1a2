// The simulated network between replicas: per-link latency distributions, loss, duplication, extra
// reordering delay, and scheduled partitions. It is a pure function of its configuration, the partition
// state and the PRNG: `transmit` says when (if ever) each copy of a message arrives.
//
// Reordering comes from latency variance (two messages on one link may overtake each other) plus an
// explicit `reorder` probability that adds a large extra delay to single messages. A partition drops a
// message if its endpoints are separated either when it is sent or when it would arrive, like packets
// in flight when a link goes down.

import type { Prng } from './prng.ts';

export type LatencyDistribution =
  /** Uniform in [minMs, maxMs). */
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** Approximately normal (Irwin-Hall of 4 uniforms), truncated at minMs. */
  | { kind: 'normal'; meanMs: number; sdMs: number; minMs: number }
  /** Uniform base, plus with probability `spikeProbability` a spike uniform in [0, spikeMs). */
  | { kind: 'spiky'; minMs: number; maxMs: number; spikeProbability: number; spikeMs: number };

export interface LinkProfile {
  latency: LatencyDistribution;
  /** Probability that a message is dropped. */
  loss: number;
  /** Probability that a delivered message is delivered a second time (with its own latency). */
  duplicate: number;
  /** Probability that a message gets an extra delay uniform in [0, reorderMs), to overtake later ones. */
  reorder: number;
  reorderMs: number;
}

export interface NetworkConfig {
  default: LinkProfile;
  /** Per-link overrides keyed "from->to". */
  links?: Readonly<Record<string, LinkProfile>>;
}

export function sampleLatency(d: LatencyDistribution, prng: Prng): number {
  switch (d.kind) {
    case 'uniform':
      return prng.range(d.minMs, d.maxMs);
    case 'normal': {
      // Irwin-Hall: the sum of 4 U(0,1) has mean 2 and variance 1/3; rescale to (mean, sd).
      const s = prng.float() + prng.float() + prng.float() + prng.float();
      return Math.max(d.minMs, d.meanMs + (s - 2) * d.sdMs * Math.sqrt(3));
    }
    case 'spiky': {
      const base = prng.range(d.minMs, d.maxMs);
      return prng.chance(d.spikeProbability) ? base + prng.range(0, d.spikeMs) : base;
    }
  }
}

export class Network {
  readonly #config: NetworkConfig;
  readonly #prng: Prng;
  /** Partition group of each replica; undefined when the network is whole. */
  #groupOf: Map<number, number> | undefined;
  /** After GST no message is lost any more (delays stay, bounded by the latency distribution). */
  #stable = false;

  constructor(config: NetworkConfig, prng: Prng) {
    this.#config = config;
    this.#prng = prng;
  }

  /** Split replicas into groups; replicas not listed are each isolated in a group of their own. */
  partition(groups: readonly (readonly number[])[]): void {
    const m = new Map<number, number>();
    groups.forEach((g, i) => {
      for (const r of g) m.set(r, i);
    });
    this.#groupOf = m;
  }

  /** Global stabilisation time has passed (partial synchrony, Dwork, Lynch & Stockmeyer, JACM 1988). */
  stabilise(): void {
    this.#stable = true;
  }

  heal(): void {
    this.#groupOf = undefined;
  }

  get partitioned(): boolean {
    return this.#groupOf !== undefined;
  }

  connected(a: number, b: number): boolean {
    if (a === b || this.#groupOf === undefined) return true;
    const ga = this.#groupOf.get(a);
    const gb = this.#groupOf.get(b);
    return ga !== undefined && ga === gb;
  }

  profile(from: number, to: number): LinkProfile {
    return this.#config.links?.[`${from}->${to}`] ?? this.#config.default;
  }

  /**
   * The delays after which copies of a message sent now from `from` to `to` arrive: [] when lost or
   * partitioned, one delay normally, two when duplicated.
   */
  transmit(from: number, to: number): number[] {
    if (!this.connected(from, to)) return [];
    const p = this.profile(from, to);
    if (!this.#stable && this.#prng.chance(p.loss)) return [];
    const copies = this.#prng.chance(p.duplicate) ? 2 : 1;
    const delays: number[] = [];
    for (let i = 0; i < copies; i++) {
      let d = sampleLatency(p.latency, this.#prng);
      if (this.#prng.chance(p.reorder)) d += this.#prng.range(0, p.reorderMs);
      delays.push(d);
    }
    return delays;
  }
}

export const LAN: LinkProfile = {
  latency: { kind: 'uniform', minMs: 1, maxMs: 5 },
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderMs: 0,
};
