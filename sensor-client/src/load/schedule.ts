// Open-loop send schedule. The k-th batch is due at start + k * interval whatever happened to earlier
// requests, so a slow system cannot slow the generator down and hide its own latency ("coordinated
// omission", Gil Tene, "How NOT to Measure Latency", 2013). Latency is measured from the INTENDED send
// time, so if the generator itself falls behind, that lag is charged to the system, not silently dropped.

export interface ScheduleConfig {
  /** Offered load, transactions per second. */
  rate: number;
  /** Transactions per HTTP request (application/cbor-seq). */
  batchSize: number;
  /** Total run length including warm-up, ms. */
  durationMs: number;
  /** Leading part of the run whose samples are excluded from the statistics, ms. */
  warmupMs: number;
}

export interface ScheduledBatch {
  /** Batch number, 0-based. */
  index: number;
  /** Intended send time, ms after the start of the run. */
  atMs: number;
  /** Index of the first transaction in the corpus. */
  firstTx: number;
  /** Number of transactions in this batch (the last batch may be short). */
  count: number;
  /** Whether samples from this batch count (false during warm-up). */
  measured: boolean;
}

export function validateSchedule(c: ScheduleConfig): void {
  if (!(c.rate > 0 && Number.isFinite(c.rate))) throw new RangeError('rate must be > 0');
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1))
    throw new RangeError('batchSize must be an integer >= 1');
  if (!(c.durationMs > 0)) throw new RangeError('duration must be > 0');
  if (!(c.warmupMs >= 0 && c.warmupMs < c.durationMs))
    throw new RangeError('warm-up must be in [0, duration)');
}

/** Total transactions the schedule offers: rate x duration, rounded down. */
export function totalTransactions(c: ScheduleConfig): number {
  return Math.floor((c.rate * c.durationMs) / 1000);
}

/**
 * The full schedule, computed before the run. Transaction i is due at i / rate seconds; a batch is due
 * when its first transaction is, so batching never delays the offered load by more than one batch.
 */
export function buildSchedule(c: ScheduleConfig): ScheduledBatch[] {
  validateSchedule(c);
  const total = totalTransactions(c);
  const out: ScheduledBatch[] = [];
  for (let first = 0, index = 0; first < total; first += c.batchSize, index++) {
    const atMs = (first * 1000) / c.rate;
    out.push({
      index,
      atMs,
      firstTx: first,
      count: Math.min(c.batchSize, total - first),
      measured: atMs >= c.warmupMs,
    });
  }
  return out;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * Runs `send` for every batch at its intended time without waiting for earlier sends to complete
 * (open loop). `send` receives the intended absolute time, which is what latency is measured from.
 * Returns the lag (actual - intended start, ms) of every dispatch, so the report can show whether the
 * generator kept up.
 */
export async function runOpenLoop(
  schedule: readonly ScheduledBatch[],
  clock: Clock,
  send: (batch: ScheduledBatch, intendedAt: number) => Promise<void>,
): Promise<{ dispatchLagMs: number[]; inFlight: Promise<void>[] }> {
  const start = clock.now();
  const dispatchLagMs: number[] = [];
  const inFlight: Promise<void>[] = [];
  for (const b of schedule) {
    const due = start + b.atMs;
    // Loop: timers may fire a little early, and a batch must never leave before its intended time.
    for (let wait = due - clock.now(); wait > 0; wait = due - clock.now()) await clock.sleep(wait);
    dispatchLagMs.push(clock.now() - due);
    inFlight.push(send(b, due));
  }
  return { dispatchLagMs, inFlight };
}
