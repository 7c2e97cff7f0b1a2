// Reconnection delays: exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential
// Backoff And Jitter", 2015): half the capped exponential delay is fixed, half is random, so validators
// that lost each other at the same moment do not redial in lock-step yet never retry immediately.

import type { Rng } from './random.ts';

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Delay before reconnection attempt number `attempt` (0-based). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, rng: Rng): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return exp / 2 + rng() * (exp / 2);
}
