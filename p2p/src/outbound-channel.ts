// One peer's outbound side of one streaming protocol: a bounded send queue feeding ONE long-lived
// libp2p stream. Messages enqueued in the same tick are coalesced into one frame on the next microtask;
// while the stream needs to drain (yamux window or socket buffer full) messages keep coalescing in the
// queue and go out as large frames when it drains (ADR 0050). Streams are unidirectional: a node only
// writes on the streams it opened and only reads the streams its peers opened, so neither side ever has
// to decide which of two simultaneously opened streams "wins".

import type { Stream } from '@libp2p/interface';
import { BATCH_HEADER_BYTES, encodeFrame, MESSAGE_OVERHEAD_BYTES } from './frame.ts';
import type { P2PLogger } from './logger.ts';
import { type QueueLimits, SendQueue } from './send-queue.ts';

/**
 * A message with two encodings (ADR 0129): `compact` (without its kind byte) for a stream whose peer
 * negotiated the protocol id that carries it, `full` for any other. Which one goes out is decided when it is written, since
 * only then is the stream (and so what the peer supports) known. Sized by the full form.
 */
export interface TwoFormMessage {
  readonly full: Uint8Array;
  readonly compact: Uint8Array;
  readonly byteLength: number;
}

export type OutboundMessage = Uint8Array | TwoFormMessage;

/** The kind byte before each message on /vigil/consensus/1.1.0 (ADR 0129, docs/protocol.md §13). */
export const MessageKind = { pbft: 0, compactPrePrepare: 1 } as const;

export interface OutboundChannelOptions {
  /** Protocol name for logs. */
  name: string;
  /** Coalesce queued messages into frames of at most this body size. */
  batchBytes: number;
  maxMessagesPerFrame: number;
  queue: QueueLimits;
  /** Open a fresh stream on the current connection to the peer. */
  open: () => Promise<Stream>;
  onDropped: (count: number, reason: 'queue-full' | 'stream-failed') => void;
  onFrameSent: (frameBytes: number, messages: number) => void;
  log: P2PLogger;
  /** Delay before reopening a stream that failed to open while the peer is connected. */
  retryMs: number;
  /** The protocol id on which a TwoFormMessage goes out compact (otherwise always full). */
  compactProtocol?: string;
  /**
   * Each message as written: the chosen form, its kind, whether a kind byte preceded it, and whether
   * it was a TwoFormMessage (so a whole one went to a peer without the compact id).
   */
  onMessageSent?: (message: Uint8Array, kind: number, tagged: boolean, twoForm: boolean) => void;
}

export class OutboundChannel {
  readonly #o: OutboundChannelOptions;
  readonly #queue: SendQueue<OutboundMessage>;
  #stream: Stream | undefined;
  #opening = false;
  #connected = false;
  #closed = false;
  #flushScheduled = false;
  #waitingForDrain = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(o: OutboundChannelOptions) {
    this.#o = o;
    this.#queue = new SendQueue(o.queue);
  }

  get queuedMessages(): number {
    return this.#queue.length;
  }

  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  /** True while a stream is open for writing. */
  get streamOpen(): boolean {
    return this.#stream !== undefined;
  }

  enqueue(message: OutboundMessage): void {
    if (this.#closed) return;
    const dropped = this.#queue.push(message);
    if (dropped > 0) this.#o.onDropped(dropped, 'queue-full');
    this.#scheduleFlush();
  }

  /** The peer gained (true) or lost (false) its last connection. */
  setConnected(connected: boolean): void {
    this.#connected = connected;
    if (connected) this.#ensureStream();
    else this.#detach();
  }

  /** A stream is opened only when there is something to send (an observer never opens consensus). */
  get #wanted(): boolean {
    return !this.#closed && this.#connected && this.#queue.length > 0;
  }

  /** Discard what is queued (the stream stays); returns how many messages were discarded. */
  discardQueued(): number {
    return this.#queue.clear();
  }

  /** Stop for good: abort the stream and discard the queue; returns how many messages were discarded. */
  close(): number {
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    const s = this.#stream;
    this.#detach();
    s?.abort(new Error('channel closed'));
    return this.#queue.clear();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#closed || this.#waitingForDrain) return;
    const stream = this.#stream;
    if (stream === undefined) {
      this.#ensureStream();
      return;
    }
    while (this.#queue.length > 0) {
      if (stream.writeStatus !== 'writable') {
        this.#detach();
        this.#retryLater();
        return;
      }
      if (stream.writableNeedsDrain) {
        this.#awaitDrain(stream);
        return;
      }
      // On the compact id every message carries its kind byte: 0 a PBFT message, 1 a compact
      // PRE-PREPARE (ADR 0129); elsewhere a two-form message goes out whole.
      const compact = this.#o.compactProtocol !== undefined && stream.protocol === this.#o.compactProtocol;
      const items = this.#queue.take(
        this.#o.batchBytes,
        MESSAGE_OVERHEAD_BYTES + (compact ? 1 : 0),
        BATCH_HEADER_BYTES,
        this.#o.maxMessagesPerFrame,
      );
      const batch = items.map((m) => (m instanceof Uint8Array ? m : compact ? m.compact : m.full));
      const kinds = compact
        ? items.map((m) => (m instanceof Uint8Array ? MessageKind.pbft : MessageKind.compactPrePrepare))
        : undefined;
      const frame = encodeFrame(batch, kinds);
      let more: boolean;
      try {
        more = stream.send(frame);
      } catch (err) {
        // The stream died between our status check and the write; the batch is lost with it (the
        // same as if it had been in flight). Count it and reopen.
        this.#o.onDropped(batch.length, 'stream-failed');
        this.#o.log.info('stream-send-failed', { protocol: this.#o.name, error: String(err) });
        this.#detach();
        this.#retryLater();
        return;
      }
      this.#o.onFrameSent(frame.byteLength, batch.length);
      if (this.#o.onMessageSent !== undefined)
        for (let i = 0; i < batch.length; i++)
          this.#o.onMessageSent(
            batch[i]!,
            kinds?.[i] ?? MessageKind.pbft,
            kinds !== undefined,
            !(items[i] instanceof Uint8Array),
          );
      if (!more) {
        this.#awaitDrain(stream);
        return;
      }
    }
  }

  #awaitDrain(stream: Stream): void {
    this.#waitingForDrain = true;
    const resume = () => {
      stream.removeEventListener('drain', resume);
      stream.removeEventListener('close', resume);
      this.#waitingForDrain = false;
      this.#scheduleFlush();
    };
    stream.addEventListener('drain', resume);
    stream.addEventListener('close', resume);
  }

  #ensureStream(): void {
    if (!this.#wanted || this.#stream !== undefined || this.#opening) return;
    if (this.#retryTimer !== undefined) return;
    this.#opening = true;
    this.#o.open().then(
      (stream) => {
        this.#opening = false;
        if (this.#closed || !this.#connected) {
          stream.abort(new Error('channel no longer needed'));
          return;
        }
        this.#stream = stream;
        stream.addEventListener('close', () => {
          if (this.#stream !== stream) return;
          this.#detach();
          // Reopen (on another connection, or after reconnection) once there is something to send,
          // after a pause: a peer that resets every stream we open must not make us spin.
          this.#retryLater();
        });
        this.#scheduleFlush();
      },
      (err: unknown) => {
        this.#opening = false;
        this.#o.log.info('stream-open-failed', { protocol: this.#o.name, error: String(err) });
        this.#retryLater();
      },
    );
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#ensureStream();
    }, this.#o.retryMs);
  }

  #detach(): void {
    this.#stream = undefined;
    this.#waitingForDrain = false;
  }
}
