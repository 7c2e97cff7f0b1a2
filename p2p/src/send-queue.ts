// Per-peer, per-protocol bounded send queue. Bounded in both bytes and message count; when a push
// would exceed either bound the OLDEST messages are dropped (ADR 0050 "drop policy"): for consensus a
// newer message (higher view/sequence) supersedes older ones and PBFT recovers lost messages through
// its own retransmission/view-change/state-transfer (Castro & Liskov 2002, §4.4-4.5); for gossip the
// oldest transaction is the one most likely to have reached the peer by another route already.
// Pushing never blocks and never throws for a full queue, so consensus is never stalled by a slow peer.

export interface QueueLimits {
  maxBytes: number;
  maxMessages: number;
}

/** What a queue holds: bytes, or anything that knows its size (outbound-channel.ts's two-form message). */
export interface Sized {
  readonly byteLength: number;
}

export class SendQueue<T extends Sized = Uint8Array> {
  readonly #limits: QueueLimits;
  #items: T[] = [];
  #head = 0;
  #bytes = 0;

  constructor(limits: QueueLimits) {
    this.#limits = limits;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Append `message`; returns how many old messages were dropped to make room. */
  push(message: T): number {
    this.#items.push(message);
    this.#bytes += message.byteLength;
    let dropped = 0;
    while (
      this.length > 1 &&
      (this.#bytes > this.#limits.maxBytes || this.length > this.#limits.maxMessages)
    ) {
      this.#shift();
      dropped++;
    }
    return dropped;
  }

  /**
   * Remove and return the longest prefix of queued messages whose batch fits `maxBodyBytes`
   * (each message costs its length plus `perMessageOverhead`) and `maxMessages`. Returns at least one
   * message when the queue is non-empty: callers guarantee every queued message fits a frame alone.
   */
  take(maxBodyBytes: number, perMessageOverhead: number, headerBytes: number, maxMessages: number): T[] {
    const out: T[] = [];
    let size = headerBytes;
    while (this.length > 0 && out.length < maxMessages) {
      const next = this.#items[this.#head]!;
      const cost = perMessageOverhead + next.byteLength;
      if (out.length > 0 && size + cost > maxBodyBytes) break;
      out.push(this.#shift());
      size += cost;
    }
    return out;
  }

  /** Drop everything; returns how many messages were discarded. */
  clear(): number {
    const n = this.length;
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    return n;
  }

  #shift(): T {
    const m = this.#items[this.#head]!;
    this.#items[this.#head] = EMPTY as unknown as T;
    this.#head++;
    this.#bytes -= m.byteLength;
    // Compact once the consumed prefix dominates, keeping shifts amortised O(1).
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return m;
  }
}

const EMPTY = new Uint8Array(0);
