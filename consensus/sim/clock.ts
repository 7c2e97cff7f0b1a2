// Per-replica local clocks. A replica's clock reads offset + rate * (true virtual time), so a replica with
// rate 2 sees its timers fire after half the true time (a fast clock), and one with rate 0.5 after twice
// it. PBFT's safety never depends on clocks; its liveness depends on timeouts eventually exceeding the
// message delay (TOCS 2002 §4.5.2), which skewed rates stress.

export interface LocalClock {
  rate: number;
  offsetMs: number;
}

export function localTime(c: LocalClock, trueTime: number): number {
  return Math.max(0, Math.floor(c.offsetMs + c.rate * trueTime));
}

/** True duration after which `localMs` of the replica's clock have passed. */
export function trueDuration(c: LocalClock, localMs: number): number {
  return localMs / c.rate;
}
