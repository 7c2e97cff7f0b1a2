// Retry delays: exponential backoff with "full jitter" (delay = random(0, min(cap, base * 2^attempt))),
// which spreads a fleet of devices reconnecting after an outage instead of having them retry in lockstep
// (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). Browser-safe and pure given
// the random source.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 30_000 };

/** Delay before retry number `attempt` (0-based); `random` returns a value in [0, 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
