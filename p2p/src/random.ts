// Seedable PRNG for the fault layer and reconnection jitter. Not cryptographic: it decides which
// messages a test drops, and a seed makes those decisions reproducible.

export type Rng = () => number;

/** mulberry32: a tiny 32-bit generator with full period, good enough for fault injection. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
