// Bringing a benchmark network back to idle between load points. An open-loop point that overloads the
// network leaves thousands of transactions in the mempools, and a transaction a full pool refused
// (MEMPOOL_FULL) leaves its device's later nonces parked behind a gap until they age out (10 minutes,
// node/src/mempool). A point that starts on that backlog measures it along with its own load, and its
// fresh transactions collide with the parked nonces (NONCE_TAKEN). So before each point the bench
// resends what the previous runs left uncommitted, as a real device would (sensor-client's queue treats
// MEMPOOL_FULL as transient), and waits for every mempool to empty.
import { concatBytes } from '@vigil/consensus/wire';
import type { Clock } from '@vigil/sensor-client/load/schedule.ts';

/** What settle found and did between two load points. */
export interface SettleResult {
  /** Each running validator's mempool size when settling began (NaN: it did not answer). */
  backlogBefore: number[];
  /** Uncommitted transactions of earlier runs resent, and how many rounds of resends. */
  resent: number;
  resendRounds: number;
  settleMs: number;
  /** Every mempool emptied within the bound. */
  idle: boolean;
  backlogAfter: number[];
}

export interface SettleTarget {
  /** Mempool size of each running validator (undefined: no answer). */
  backlog(): Promise<(number | undefined)[]>;
  /** API base URLs of the running validators. */
  urls(): string[];
}

// The API takes at most 1,000 transactions per request (node/src/api/routes/transactions.ts MAX_BATCH).
const MAX_RESEND_BATCH = 1_000;
const RESEND_EVERY_MS = 3_000;
const POLL_MS = 100;

/**
 * Resends `leftovers` (encoded transactions, each device's in nonce order) to every running validator
 * every few seconds while any mempool holds transactions, until all are empty or `boundMs` has passed.
 * A resend is cheap where a transaction is already pooled (DUPLICATE_TX) or committed (NONCE_TOO_LOW).
 */
export async function settle(
  target: SettleTarget,
  leftovers: readonly Uint8Array[],
  boundMs: number,
  clock: Clock,
  fetchFn: typeof fetch = fetch,
): Promise<SettleResult> {
  const t0 = clock.now();
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < leftovers.length; i += MAX_RESEND_BATCH) {
    bodies.push(concatBytes(...leftovers.slice(i, i + MAX_RESEND_BATCH)));
  }
  const nan = (xs: (number | undefined)[]) => xs.map((x) => x ?? Number.NaN);
  let backlogBefore: number[] | undefined;
  let resendRounds = 0;
  let lastResend = Number.NEGATIVE_INFINITY;
  for (;;) {
    const now = clock.now();
    const backlog = await target.backlog();
    backlogBefore ??= nan(backlog);
    const idle = backlog.every((x) => x === 0);
    if (idle || now - t0 >= boundMs) {
      return {
        backlogBefore,
        resent: resendRounds > 0 ? leftovers.length : 0,
        resendRounds,
        settleMs: Math.round(now - t0),
        idle,
        backlogAfter: nan(backlog),
      };
    }
    if (bodies.length > 0 && now - lastResend >= RESEND_EVERY_MS) {
      lastResend = now;
      resendRounds++;
      for (const url of target.urls()) {
        // In order, one request at a time: a device's nonces must not overtake each other.
        for (const body of bodies) {
          await fetchFn(`${url}/v1/transactions`, {
            method: 'POST',
            headers: { 'content-type': 'application/cbor-seq' },
            body: body as unknown as BodyInit,
          })
            .then((r) => r.arrayBuffer())
            .catch(() => undefined); // a validator that does not answer is retried next round
        }
      }
    }
    await clock.sleep(POLL_MS);
  }
}
