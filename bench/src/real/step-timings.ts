// How long the validators' slow steps took during one load point: the node's step histograms
// (vigil_block_apply_seconds, vigil_block_write_seconds, vigil_consensus_persist_seconds) scraped from
// /metrics before and after the point, and their difference summarised. A view change with no fault
// means some replica went a request timeout (1 s) without a commit; these show whether applying or
// writing a block, or fsyncing consensus records, took that long (issue 9).

export const STEP_METRICS = {
  blockApply: 'vigil_block_apply_seconds',
  blockWrite: 'vigil_block_write_seconds',
  consensusPersist: 'vigil_consensus_persist_seconds',
} as const;

export type StepName = keyof typeof STEP_METRICS;

/** Cumulative bucket counts by upper bound (Prometheus `le`, +Inf as Infinity). */
export type HistogramBuckets = Map<number, number>;

export interface StepSummary {
  /** Steps observed during the point, all validators together. */
  count: number;
  /** Of those, how many took longer than 0.25 s, and longer than 1 s (the default request timer). */
  over250ms: number;
  over1s: number;
  /**
   * The bucket of the slowest step: its upper bound in seconds, or -1 when it was beyond the largest
   * bound (5 s); null when nothing was observed. (JSON has no Infinity.)
   */
  slowestAtMostS: number | null;
}

/**
 * Parses the `<name>_bucket{le="..."} N` lines of one histogram from Prometheus text; with `label`
 * (e.g. `kind="major"`), only the series carrying it (others are added together).
 */
export function parseHistogram(text: string, name: string, label?: string): HistogramBuckets {
  const out: HistogramBuckets = new Map();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    if (label !== undefined && !line.includes(label)) continue;
    const m = /le="([^"]+)"[^}]*\}\s+([0-9.eE+-]+)/.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    const n = Number(m[2]);
    if (Number.isFinite(n) && !Number.isNaN(le)) out.set(le, (out.get(le) ?? 0) + n);
  }
  return out;
}

/** Observations between two scrapes of the same histogram, summarised (cumulative buckets). */
export function summariseDelta(before: HistogramBuckets, after: HistogramBuckets): StepSummary {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = (le: number) => Math.max(0, (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const count = bounds.length > 0 ? delta(bounds[bounds.length - 1]!) : 0;
  const atMost = (s: number) => {
    // Observations <= s: the cumulative count of the largest bound not above s.
    let c = 0;
    for (const le of bounds) if (le <= s) c = delta(le);
    return c;
  };
  let slowest: number | null = null;
  let prev = 0;
  for (const le of bounds) {
    const c = delta(le);
    if (c > prev) slowest = le;
    prev = c;
  }
  return {
    count,
    over250ms: count - atMost(0.25),
    over1s: count - atMost(1),
    slowestAtMostS: slowest === null ? null : Number.isFinite(slowest) ? slowest : -1,
  };
}

/** The slowest bucket for a report: "<= 0.25 s", "> 5 s" or "-". */
export function formatSlowest(x: number | null): string {
  return x === null ? '-' : x === -1 ? '> 5 s' : `<= ${x} s`;
}

/** Adds step summaries of two validators. */
export function addSummaries(a: StepSummary, b: StepSummary): StepSummary {
  // -1 (beyond every bound) is the slowest of all.
  const rank = (x: number | null) =>
    x === null ? Number.NEGATIVE_INFINITY : x === -1 ? Number.POSITIVE_INFINITY : x;
  const slowest = rank(a.slowestAtMostS) >= rank(b.slowestAtMostS) ? a.slowestAtMostS : b.slowestAtMostS;
  return {
    count: a.count + b.count,
    over250ms: a.over250ms + b.over250ms,
    over1s: a.over1s + b.over1s,
    slowestAtMostS: slowest,
  };
}

export type StepTimings = Record<StepName, StepSummary>;

/** The step summaries of one point from each validator's /metrics text before and after it. */
export function stepTimings(scrapes: readonly { before: string; after: string }[]): StepTimings {
  const empty: StepSummary = { count: 0, over250ms: 0, over1s: 0, slowestAtMostS: null };
  const out = { blockApply: empty, blockWrite: empty, consensusPersist: empty } as StepTimings;
  for (const step of Object.keys(STEP_METRICS) as StepName[]) {
    for (const s of scrapes) {
      const name = STEP_METRICS[step];
      out[step] = addSummaries(
        out[step],
        summariseDelta(parseHistogram(s.before, name), parseHistogram(s.after, name)),
      );
    }
  }
  return out;
}

/** One validator's /metrics text, or '' when it does not answer (a killed validator). */
export async function scrapeMetrics(apiUrl: string, timeoutMs = 2_000): Promise<string> {
  try {
    const res = await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

/** Major (mark-compact) garbage collections during a point, all validators: how many, how many over 1 s. */
export function majorGcs(scrapes: readonly { before: string; after: string }[]): {
  count: number;
  over1s: number;
} {
  const name = 'vigil_process_nodejs_gc_duration_seconds';
  let count = 0;
  let over1s = 0;
  for (const s of scrapes) {
    const d = summariseDelta(
      parseHistogram(s.before, name, 'kind="major"'),
      parseHistogram(s.after, name, 'kind="major"'),
    );
    count += d.count;
    over1s += d.over1s;
  }
  return { count, over1s };
}

/**
 * Per validator, the seconds its main thread spent paused in garbage collection during a point (every
 * kind; prom-client's gc histogram sum, from the perf_hooks 'gc' entries) and its V8 heap in use at
 * the end, MiB: null where a scrape is missing. The post-overload slowdown (more CPU per transaction
 * at the same load after an overload, docs/benchmarks-log.md) is looked for here next to CPU and p99.
 */
export function gcAndHeap(scrapes: readonly { before: string; after: string }[]): {
  gcSeconds: (number | null)[];
  heapMiB: (number | null)[];
} {
  const gcSum = (text: string): number | undefined => {
    const sums = parseCounter(text, 'vigil_process_nodejs_gc_duration_seconds_sum');
    if (sums.size === 0) return undefined;
    let total = 0;
    for (const v of sums.values()) total += v;
    return total;
  };
  const gcSeconds = scrapes.map((s) => {
    const a = gcSum(s.before);
    const z = gcSum(s.after);
    return a === undefined || z === undefined ? null : Number((z - a).toFixed(3));
  });
  const heapMiB = scrapes.map((s) => {
    const used = parseCounter(s.after, 'vigil_process_nodejs_heap_size_used_bytes').get('');
    return used === undefined ? null : Math.round(used / (1024 * 1024));
  });
  return { gcSeconds, heapMiB };
}

/** A counter's value per label set (`protocol="consensus",direction="out"`; '' for none) from /metrics text. */
export function parseCounter(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) out.set(m[2] ?? '', v);
  }
  return out;
}

/**
 * Seconds the validators spent in each phase of applying blocks during one point (the executor's
 * vigil_block_apply_phase_seconds: wait, check, prepare, execute, tree, write), all validators
 * together: where a slow block application's wall-clock time went. Empty from nodes without it.
 */
export function applyPhaseSeconds(
  scrapes: readonly { before: string; after: string }[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const name = 'vigil_block_apply_phase_seconds_sum';
  for (const s of scrapes) {
    if (s.before === '' || s.after === '') continue;
    const before = parseCounter(s.before, name);
    for (const [labels, v] of parseCounter(s.after, name)) {
      const phase = /phase="([^"]*)"/.exec(labels)?.[1];
      if (phase === undefined) continue;
      out[phase] = Math.round(((out[phase] ?? 0) + v - (before.get(labels) ?? 0)) * 1000) / 1000;
    }
  }
  return out;
}

export interface TrafficDelta {
  /** Transactions received by gossip, all validators; of them admitted, and refused by code. */
  gossipReceived: number;
  gossipAdmitted: number;
  gossipRefused: Record<string, number>;
  /** Pending transactions re-offered to peers because they were not committed in time. */
  reoffered: number;
  /** Messages and payload bytes sent over p2p, by protocol. */
  messagesOut: Record<string, number>;
  bytesOut: Record<string, number>;
  /**
   * Bytes of the consensus messages sent, by kind (PBFT type, or `prePrepareCompact`: ADR 0129), and
   * the compact PRE-PREPAREs' counters by event; absent from records made before them.
   */
  consensusBytesOut?: Record<string, number>;
  compact?: Record<string, number>;
  /** Transactions in the blocks applied during the point (the most any validator applied). */
  executed?: number;
}

/**
 * What the validators sent and received during one point (issue 9: the traffic that overload creates,
 * duplicate gossip copies and re-offers, next to the consensus messages), from each validator's
 * /metrics before and after it.
 */
export function trafficDelta(scrapes: readonly { before: string; after: string }[]): TrafficDelta {
  const out: TrafficDelta = {
    gossipReceived: 0,
    gossipAdmitted: 0,
    gossipRefused: {},
    reoffered: 0,
    messagesOut: {},
    bytesOut: {},
    consensusBytesOut: {},
    compact: {},
    executed: 0,
  };
  const delta = (s: { before: string; after: string }, name: string) => {
    const before = parseCounter(s.before, name);
    return [...parseCounter(s.after, name)].map(
      ([labels, v]) => [labels, v - (before.get(labels) ?? 0)] as const,
    );
  };
  const label = (labels: string, key: string) => new RegExp(`${key}="([^"]*)"`).exec(labels)?.[1] ?? '';
  for (const s of scrapes) {
    if (s.before === '' || s.after === '') continue;
    for (const [labels, d] of delta(s, 'vigil_tx_gossip_received_total')) {
      const result = label(labels, 'result');
      out.gossipReceived += d;
      if (result === 'admitted') out.gossipAdmitted += d;
      else if (d > 0) out.gossipRefused[result] = (out.gossipRefused[result] ?? 0) + d;
    }
    for (const [, d] of delta(s, 'vigil_tx_reoffered_total')) out.reoffered += d;
    for (const [name, into] of [
      ['vigil_p2p_messages_total', out.messagesOut],
      ['vigil_p2p_bytes_total', out.bytesOut],
    ] as const) {
      for (const [labels, d] of delta(s, name)) {
        if (label(labels, 'direction') !== 'out') continue;
        const p = label(labels, 'protocol');
        into[p] = (into[p] ?? 0) + d;
      }
    }
    for (const [name, key, into] of [
      ['vigil_p2p_consensus_bytes_total', 'kind', out.consensusBytesOut!],
      ['vigil_p2p_compact_total', 'event', out.compact!],
    ] as const) {
      for (const [labels, d] of delta(s, name)) {
        const k = label(labels, key);
        into[k] = (into[k] ?? 0) + d;
      }
    }
    let executed = 0;
    for (const [, d] of delta(s, 'vigil_tx_executed_total')) executed += d;
    out.executed = Math.max(out.executed!, executed);
  }
  return out;
}

export interface BytesPerTransaction {
  /** Every p2p byte all validators sent, per transaction applied. */
  total: number;
  byProtocol: Record<string, number>;
  /** The consensus protocol's bytes by message kind. */
  consensusByKind: Record<string, number>;
}

/**
 * What the validators sent per committed transaction during a point (ADR 0129 measures the compact
 * PRE-PREPARE by it): bytes over the transactions applied, or undefined when none were (or the record
 * predates the counters).
 */
export function bytesPerTransaction(x: TrafficDelta): BytesPerTransaction | undefined {
  const n = x.executed ?? 0;
  if (n <= 0) return undefined;
  const per = (r: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(r)
        .filter(([, b]) => b > 0)
        .map(([k, b]) => [k, Math.round(b / n)]),
    );
  const total = Object.values(x.bytesOut).reduce((a, b) => a + b, 0);
  return {
    total: Math.round(total / n),
    byProtocol: per(x.bytesOut),
    consensusByKind: per(x.consensusBytesOut ?? {}),
  };
}
