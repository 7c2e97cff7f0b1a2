// Token bucket (RFC 2697's single-rate idea without colours): `capacity` tokens, refilled at
// `ratePerSecond`, one token per inbound message. Time is injected so tests assert counts, not timing.

export type Clock = () => number;

export class TokenBucket {
  readonly #capacity: number;
  readonly #ratePerMs: number;
  readonly #now: Clock;
  #tokens: number;
  #last: number;

  constructor(opts: { capacity: number; ratePerSecond: number; now: Clock }) {
    if (!(opts.capacity > 0) || !(opts.ratePerSecond >= 0)) {
      throw new RangeError('token bucket needs capacity > 0 and ratePerSecond >= 0');
    }
    this.#capacity = opts.capacity;
    this.#ratePerMs = opts.ratePerSecond / 1000;
    this.#now = opts.now;
    this.#tokens = opts.capacity;
    this.#last = opts.now();
  }

  /** Take `n` tokens if available; returns how many were granted (0..n). */
  take(n: number): number {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#ratePerMs);
    const granted = Math.min(n, Math.floor(this.#tokens));
    this.#tokens -= granted;
    return granted;
  }
}
