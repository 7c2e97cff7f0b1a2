// Reading the node's Prometheus text (docs/api.md, GET /metrics) for the operator charts.

/** Sum and count of the commit-latency histogram in the Prometheus text (docs/api.md "/metrics"). */
export function commitLatencyTotals(metrics: string): { sum: number; count: number } | undefined {
  const sum = /^vigil_commit_latency_seconds_sum(?:\{[^}]*\})?\s+([0-9.eE+-]+)$/m.exec(metrics);
  const count = /^vigil_commit_latency_seconds_count(?:\{[^}]*\})?\s+([0-9.eE+-]+)$/m.exec(metrics);
  if (!sum || !count) return undefined;
  return { sum: Number(sum[1]), count: Number(count[1]) };
}
