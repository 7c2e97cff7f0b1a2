// Misbehaviour scores. Each peer starts at 0; a penalty subtracts; the score decays back towards 0
// exponentially with a half-life, so an honest peer that once hit a bug recovers. A peer whose score
// falls below `banThreshold` is banned for `banMs`: the connection gater refuses it and we do not dial
// it. Time is injected.

import type { Clock } from './token-bucket.ts';

export interface ScoreConfig {
  halfLifeMs: number;
  banThreshold: number;
  banMs: number;
}

interface Entry {
  score: number;
  at: number;
  bannedUntil: number;
}

export class PeerScores {
  readonly #cfg: ScoreConfig;
  readonly #now: Clock;
  readonly #entries = new Map<string, Entry>();

  constructor(cfg: ScoreConfig, now: Clock) {
    this.#cfg = cfg;
    this.#now = now;
  }

  #decayed(key: string): Entry {
    const now = this.#now();
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { score: 0, at: now, bannedUntil: 0 };
      this.#entries.set(key, e);
      return e;
    }
    const dt = Math.max(0, now - e.at);
    e.score *= 0.5 ** (dt / this.#cfg.halfLifeMs);
    e.at = now;
    return e;
  }

  score(key: string): number {
    return this.#decayed(key).score;
  }

  /** Subtract `amount`; returns true if this penalty newly banned the peer. */
  penalise(key: string, amount: number): boolean {
    const e = this.#decayed(key);
    e.score -= amount;
    if (e.score < this.#cfg.banThreshold && e.bannedUntil <= e.at) {
      e.bannedUntil = e.at + this.#cfg.banMs;
      return true;
    }
    return false;
  }

  isBanned(key: string): boolean {
    const e = this.#entries.get(key);
    return e !== undefined && e.bannedUntil > this.#now();
  }
}
