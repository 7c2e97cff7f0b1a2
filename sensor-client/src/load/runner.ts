// The load generator's run: open-loop sends of a pre-signed corpus (schedule.ts), commit times from the
// node's Server-Sent Events feed, and the statistics. Latency of a transaction = time its commit event
// arrived - its INTENDED send time (coordinated-omission-free, see schedule.ts). Transactions of warm-up
// batches are sent but excluded from every statistic.

import { SdkError } from '../sdk/errors.ts';
import { SseParser } from '../sdk/sse.ts';
import type { Corpus } from './corpus.ts';
import { type Clock, runOpenLoop, type ScheduleConfig, type ScheduledBatch } from './schedule.ts';
import { type LatencySummary, summarize } from './stats.ts';

export interface LoadRunConfig extends ScheduleConfig {
  nodes: readonly string[];
  /** After the last send, wait this long for outstanding commits. */
  drainMs: number;
  /** Which node's event feed timestamps commits (default the first). */
  eventsNode?: number;
}

export interface LoadResult {
  offered: { transactions: number; ratePerSec: number };
  submitted: { accepted: number; duplicate: number; rejected: Record<string, number>; ratePerSec: number };
  committed: { transactions: number; ratePerSec: number; notCommittedAfterDrain: number };
  /** Over every measured transaction: those never committed rank above all samples (+Infinity). */
  latencyMs: LatencySummary;
  dispatchLagMs: LatencySummary;
  measuredWindowMs: number;
  /** Times the SSE commit feed had to be reopened (commits announced meanwhile are missed). */
  eventReconnects: number;
  /** Raw samples, ms, in the order of intended send time (measured transactions only). */
  rawLatencyMs: number[];
  /**
   * Every transaction of the run (warm-up included) not seen committed after the drain, encoded, in
   * corpus order (so each device's in nonce order). A caller that runs another load against the same
   * network resends them first, as a real device would: a transaction refused by a full pool otherwise
   * leaves its device's later nonces parked behind a gap until they age out of the pools.
   */
  uncommittedTxs: Uint8Array[];
}

/** Reads `GET /v1/events` and calls `onBlock` for each block event until `signal` aborts. */
export async function subscribeBlocks(
  base: string,
  onBlock: (height: number, txIds: string[]) => void,
  signal: AbortSignal,
  fetchFn: typeof fetch = fetch,
): Promise<void> {
  const res = await fetchFn(`${base}/v1/events`, { signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new SdkError('MALFORMED_RESPONSE', `events: HTTP ${res.status}`);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
        if (ev.event !== 'block') continue;
        let j: { height?: unknown; txIds?: unknown };
        try {
          j = JSON.parse(ev.data);
        } catch {
          continue; // a malformed event is skipped, not fatal: the run goes on
        }
        if (typeof j.height === 'number' && Array.isArray(j.txIds)) {
          onBlock(
            j.height,
            j.txIds.filter((x): x is string => typeof x === 'string'),
          );
        }
      }
    }
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
}

export async function runLoad(
  cfg: LoadRunConfig,
  schedule: readonly ScheduledBatch[],
  corpus: Corpus,
  clock: Clock,
  fetchFn: typeof fetch = fetch,
): Promise<LoadResult> {
  // Index every transaction before the run: a commit event may arrive before the POST's reply.
  const total = schedule.reduce((n, b) => n + b.count, 0);
  const intended = new Float64Array(total);
  const committedAt = new Float64Array(total).fill(Number.NaN);
  const measured = new Uint8Array(total);
  const indexOf = new Map<string, number>();
  let k = 0;
  for (const [bi, b] of corpus.batches.entries()) {
    for (const id of b.ids) {
      indexOf.set(id, k);
      measured[k] = schedule[bi]!.measured ? 1 : 0;
      k++;
    }
  }
  const bodies = corpus.batches.map((b) => concat(b.txs));
  const ac = new AbortController();
  let eventReconnects = 0;
  const onBlock = (_h: number, ids: string[]) => {
    const now = clock.now();
    for (const id of ids) {
      const i = indexOf.get(id);
      if (i !== undefined && Number.isNaN(committedAt[i]!)) committedAt[i] = now;
    }
  };
  // The event stream is the commit clock: if it drops (node restart, proxy timeout), reconnect at once.
  // Blocks announced while disconnected are missed; their transactions count as not committed, and the
  // number of reconnects is reported so a reader knows.
  const events = (async () => {
    while (!ac.signal.aborted) {
      try {
        await subscribeBlocks(cfg.nodes[cfg.eventsNode ?? 0]!, onBlock, ac.signal, fetchFn);
      } catch {
        // fall through to reconnect
      }
      if (ac.signal.aborted) return;
      eventReconnects++;
      await clock.sleep(100);
    }
  })();

  let accepted = 0;
  let duplicate = 0;
  const rejected: Record<string, number> = {};
  const bump = (code: string, n = 1) => {
    rejected[code] = (rejected[code] ?? 0) + n;
  };
  const start = clock.now();
  const { dispatchLagMs, inFlight } = await runOpenLoop(schedule, clock, async (b, due) => {
    const first = b.firstTx;
    for (let j = 0; j < b.count; j++) intended[first + j] = due;
    const batch = corpus.batches[b.index]!;
    try {
      const res = await fetchFn(`${cfg.nodes[batch.node]}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/cbor-seq' },
        body: bodies[b.index] as unknown as BodyInit,
      });
      const text = await res.text();
      if (!b.measured) return;
      if (res.status !== 202 && res.status !== 200) {
        let code = `HTTP_${res.status}`;
        try {
          code = JSON.parse(text).code ?? code;
        } catch {}
        bump(code, b.count);
        return;
      }
      const results = (JSON.parse(text) as { results?: { error?: { code?: string } }[] }).results ?? [];
      for (const r of results) {
        if (!r.error) accepted++;
        else if (r.error.code === 'DUPLICATE_TX') duplicate++;
        else bump(String(r.error.code));
      }
    } catch (e) {
      if (b.measured) bump(`NETWORK:${(e as Error).name}`, b.count);
    }
  });
  const lastSendAt = clock.now();
  await Promise.all(inFlight);
  // Drain: wait for outstanding commits, up to drainMs.
  const drainUntil = lastSendAt + cfg.drainMs;
  while (clock.now() < drainUntil) {
    let outstanding = false;
    for (let i = 0; i < total; i++) {
      if (measured[i] && Number.isNaN(committedAt[i]!)) {
        outstanding = true;
        break;
      }
    }
    if (!outstanding) break;
    await clock.sleep(50);
  }
  ac.abort();
  await events;

  const windowStart = start + cfg.warmupMs;
  const windowEnd = start + cfg.durationMs;
  const windowMs = cfg.durationMs - cfg.warmupMs;
  const lat: number[] = [];
  let offered = 0;
  let notCommitted = 0;
  let committedInWindow = 0;
  for (let i = 0; i < total; i++) {
    const c = committedAt[i]!;
    if (!Number.isNaN(c) && c >= windowStart && c < windowEnd) committedInWindow++;
    if (!measured[i]) continue;
    offered++;
    if (Number.isNaN(c)) notCommitted++;
    else lat.push(c - intended[i]!);
  }
  const uncommittedTxs: Uint8Array[] = [];
  let i = 0;
  for (const b of corpus.batches) {
    for (const tx of b.txs) {
      if (Number.isNaN(committedAt[i]!)) uncommittedTxs.push(tx);
      i++;
    }
  }
  const perSec = (n: number) => (n * 1000) / windowMs;
  return {
    offered: { transactions: offered, ratePerSec: perSec(offered) },
    submitted: { accepted, duplicate, rejected, ratePerSec: perSec(accepted + duplicate) },
    committed: {
      transactions: lat.length,
      ratePerSec: perSec(committedInWindow),
      notCommittedAfterDrain: notCommitted,
    },
    // Lost transactions (refused, or not committed by the end of the drain) rank as the latest:
    // percentiles over the survivors alone would flatter p99 (stats.ts).
    latencyMs: summarize(lat, notCommitted),
    dispatchLagMs: summarize(dispatchLagMs),
    measuredWindowMs: windowMs,
    eventReconnects,
    rawLatencyMs: lat,
    uncommittedTxs,
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
