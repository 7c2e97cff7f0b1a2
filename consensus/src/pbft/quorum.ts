// Quorum arithmetic (Castro & Liskov, TOCS 2002, §4.1; docs/consensus.md "Quorums").
//
// With n replicas PBFT tolerates f = floor((n-1)/3) Byzantine ones. The quorum size is
// q = floor((n+f)/2) + 1, the smallest size such that
//   (a) any two quorums intersect in at least f+1 replicas, so in at least one correct one
//       (2q - n >= f + 1), which gives safety; and
//   (b) the n - f correct replicas alone form a quorum (q <= n - f), which gives liveness.
// For n = 3f+1 this is the familiar 2f+1. For n = 3f+2 or 3f+3 (extra replicas that do not raise f),
// 2f+1 would violate (a): two sets of 2f+1 out of 3f+3 can share only f-1 replicas. The general formula
// keeps (a) and (b) for every n.

/** f: the number of Byzantine replicas a group of n tolerates. */
export function maxFaulty(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`replica count must be a positive integer, got ${n}`);
  return Math.floor((n - 1) / 3);
}

/** q = floor((n+f)/2)+1: matching messages needed for a certificate (= 2f+1 when n = 3f+1). */
export function quorumSize(n: number): number {
  return Math.floor((n + maxFaulty(n)) / 2) + 1;
}

/** The primary of view v is replica v mod n (§4.1). */
export function primaryOf(view: number, n: number): number {
  return view % n;
}
