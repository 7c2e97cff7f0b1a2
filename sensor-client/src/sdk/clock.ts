// Clock-skew estimation against a node (browser-safe). The node stamps `/v1/status` with its clock; we
// take the midpoint of our send and receive times as the instant the node read its clock (the same
// assumption NTP's offset formula makes, RFC 5905 §8), so skew error is at most half the round trip.

export interface SkewEstimate {
  /** Device clock minus node clock, ms (positive: the device is ahead). */
  skewMs: number;
  /** Round-trip time of the probe, ms: the estimate is +/- rtt/2. */
  rttMs: number;
}

export function estimateSkew(sentAt: number, receivedAt: number, nodeTime: number): SkewEstimate {
  const rttMs = Math.max(0, receivedAt - sentAt);
  return { skewMs: sentAt + rttMs / 2 - nodeTime, rttMs };
}

/** True when the skew is beyond what nodes accept, allowing for the probe's own uncertainty. */
export function isSkewBeyond(est: SkewEstimate, acceptedSkewMs: number): boolean {
  return Math.abs(est.skewMs) - est.rttMs / 2 > acceptedSkewMs;
}
