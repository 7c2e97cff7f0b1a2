// Length-prefixed batch frames: the unit every Vigil protocol writes on a libp2p stream.
//
// Byte layout (all integers unsigned big-endian; docs/p2p.md "Frame format"):
//
//   frame   = bodyLength:u32  body                       bodyLength = byte length of body
//   body    = version:u8 (=1)  count:u32  message{count}
//   message = length:u32  payload{length}
//
// A frame carries a batch of `count` >= 1 messages so that many small consensus messages cost one
// stream write (ADR 0050: libp2p over loopback manages ~30k small writes/s but ~100 MB/s in 64 KiB
// writes). Fixed-width u32 lengths rather than varints: a varint admits non-minimal encodings and
// buys nothing at these sizes. The decoder rejects a bad length prefix as soon as the 4 prefix bytes
// arrive, so an oversize frame is refused before a single byte of its body is buffered.

import { FrameError, P2PErrorCode } from './errors.ts';

export const FRAME_VERSION = 1;
/** Bytes of the u32 length prefix. */
export const FRAME_PREFIX_BYTES = 4;
/** version + count. */
export const BATCH_HEADER_BYTES = 5;
/** Per-message overhead inside a batch: its u32 length. */
export const MESSAGE_OVERHEAD_BYTES = 4;
/** The smallest valid body: header plus one empty message. */
export const MIN_BODY_BYTES = BATCH_HEADER_BYTES + MESSAGE_OVERHEAD_BYTES;

/**
 * What a libp2p stream 'message' event carries: a Uint8Array or a Uint8ArrayList (any version). A list
 * is read piece by piece when it can be iterated: its `subarray()` concatenates the pieces, a copy of
 * every byte that a frame body spanning them pays again when it is assembled.
 */
export type ByteChunk =
  | Uint8Array
  | {
      readonly byteLength: number;
      subarray(): Uint8Array;
      [Symbol.iterator]?: () => Iterator<Uint8Array>;
    };

/** A FIFO of received chunks, read without copying until a frame body must be assembled. */
class ChunkBuffer {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get byteLength(): number {
    return this.#length;
  }

  append(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
  }

  /** Remove and return the first `n` bytes (a view when they lie in one chunk, else a copy). */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.byteLength, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    this.#length -= n;
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}

export interface FrameLimits {
  /** Largest accepted body length (the u32 prefix value). */
  maxFrameBytes: number;
  /** Largest accepted message count in one frame. */
  maxMessagesPerFrame: number;
}

/** The body size a batch of these messages encodes to (without the 4-byte prefix). */
export function batchBodyBytes(messages: readonly Uint8Array[]): number {
  let n = BATCH_HEADER_BYTES;
  for (const m of messages) n += MESSAGE_OVERHEAD_BYTES + m.byteLength;
  return n;
}

/**
 * The frame body size one message of `messageBytes` needs: size `maxFrameBytes` with this so that the
 * largest legal message (e.g. the PBFT core's maxMessageBytes) always fits.
 */
export function frameBytesFor(messageBytes: number): number {
  return BATCH_HEADER_BYTES + MESSAGE_OVERHEAD_BYTES + messageBytes;
}

/**
 * Encode one frame (prefix + body) carrying `messages` (at least one). With `kinds` (one per message),
 * each message is written as its kind byte followed by its bytes, as /vigil/consensus/1.1.0 carries
 * them (ADR 0129): the message length then counts the kind byte.
 */
export function encodeFrame(messages: readonly Uint8Array[], kinds?: readonly number[]): Uint8Array {
  if (messages.length === 0)
    throw new FrameError(P2PErrorCode.badBatch, 'a frame carries at least one message');
  const tag = kinds === undefined ? 0 : 1;
  const bodyLength = batchBodyBytes(messages) + tag * messages.length;
  if (bodyLength > 0xffffffff) throw new FrameError(P2PErrorCode.frameTooLarge, 'batch exceeds u32 length');
  const out = new Uint8Array(FRAME_PREFIX_BYTES + bodyLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, bodyLength);
  out[4] = FRAME_VERSION;
  view.setUint32(5, messages.length);
  let at = FRAME_PREFIX_BYTES + BATCH_HEADER_BYTES;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    view.setUint32(at, m.byteLength + tag);
    at += MESSAGE_OVERHEAD_BYTES;
    if (kinds !== undefined) out[at++] = kinds[i]!;
    out.set(m, at);
    at += m.byteLength;
  }
  return out;
}

export interface DecodeOptions {
  /**
   * Messages as views into the frame body instead of copies. Only for a reader that copies out what it
   * keeps (block sync's entries, each decoded and copied at once): a kept view pins the whole frame, up
   * to its maxFrameBytes, and the body may itself be a view into the transport's buffer.
   */
  messageViews?: boolean;
}

/** Decode one frame body into its messages (each a fresh copy the caller owns, unless `messageViews`). */
export function decodeBatchBody(
  body: Uint8Array,
  limits: FrameLimits,
  options: DecodeOptions = {},
): Uint8Array[] {
  const views = options.messageViews === true;
  if (body.byteLength < MIN_BODY_BYTES) {
    throw new FrameError(P2PErrorCode.badBatch, `batch body of ${body.byteLength} bytes is too short`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const version = body[0];
  if (version !== FRAME_VERSION)
    throw new FrameError(P2PErrorCode.badBatch, `unknown batch version ${version}`);
  const count = view.getUint32(1);
  if (count === 0 || count > limits.maxMessagesPerFrame) {
    throw new FrameError(
      P2PErrorCode.badBatch,
      `batch count ${count} outside 1..${limits.maxMessagesPerFrame}`,
    );
  }
  // Each message needs at least its 4-byte length: reject impossible counts before allocating.
  if (count * MESSAGE_OVERHEAD_BYTES > body.byteLength - BATCH_HEADER_BYTES) {
    throw new FrameError(
      P2PErrorCode.badBatch,
      `batch count ${count} cannot fit in ${body.byteLength} bytes`,
    );
  }
  const messages: Uint8Array[] = new Array(count);
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + MESSAGE_OVERHEAD_BYTES > body.byteLength) {
      throw new FrameError(P2PErrorCode.badBatch, `message ${i} length runs past the body`);
    }
    const len = view.getUint32(at);
    at += MESSAGE_OVERHEAD_BYTES;
    if (len > body.byteLength - at)
      throw new FrameError(P2PErrorCode.badBatch, `message ${i} runs past the body`);
    messages[i] = views ? body.subarray(at, at + len) : body.slice(at, at + len);
    at += len;
  }
  if (at !== body.byteLength) {
    throw new FrameError(
      P2PErrorCode.badBatch,
      `${body.byteLength - at} trailing bytes after the last message`,
    );
  }
  return messages;
}

/**
 * Incremental decoder for a byte stream of frames. Feed it chunks as they arrive; it returns every batch
 * completed so far. After one error it stays poisoned: a stream that sent one bad frame is not
 * trusted to be in sync again.
 */
export class FrameDecoder {
  readonly #limits: FrameLimits;
  readonly #options: DecodeOptions;
  readonly #buffer = new ChunkBuffer();
  /** Body length of the frame being assembled, once its prefix is read. */
  #pending: number | undefined;
  #failed: FrameError | undefined;

  constructor(limits: FrameLimits, options: DecodeOptions = {}) {
    if (!(limits.maxFrameBytes >= MIN_BODY_BYTES) || limits.maxFrameBytes > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be in ${MIN_BODY_BYTES}..2^32-1`);
    }
    this.#limits = limits;
    this.#options = options;
  }

  /** Bytes buffered but not yet decoded (bounded by maxFrameBytes + 4). */
  get bufferedBytes(): number {
    return this.#buffer.byteLength;
  }

  /**
   * Append a chunk and decode every complete frame. Batches decoded before a bad frame are returned
   * alongside the error so that valid messages ahead of the garbage are not lost.
   */
  push(chunk: ByteChunk): { batches: Uint8Array[][]; error?: FrameError } {
    if (this.#failed !== undefined) return { batches: [], error: this.#failed };
    if (chunk instanceof Uint8Array) this.#buffer.append(chunk);
    else if (chunk[Symbol.iterator] !== undefined)
      for (const piece of chunk as Iterable<Uint8Array>) this.#buffer.append(piece);
    else this.#buffer.append(chunk.subarray());
    const batches: Uint8Array[][] = [];
    try {
      for (;;) {
        if (this.#pending === undefined) {
          if (this.#buffer.byteLength < FRAME_PREFIX_BYTES) break;
          const prefix = this.#buffer.take(FRAME_PREFIX_BYTES);
          const length = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0);
          if (length > this.#limits.maxFrameBytes) {
            throw new FrameError(
              P2PErrorCode.frameTooLarge,
              `frame of ${length} bytes exceeds the ${this.#limits.maxFrameBytes}-byte limit`,
            );
          }
          if (length < MIN_BODY_BYTES) {
            throw new FrameError(
              P2PErrorCode.badLengthPrefix,
              `frame length ${length} is below ${MIN_BODY_BYTES}`,
            );
          }
          this.#pending = length;
        }
        if (this.#buffer.byteLength < this.#pending) break;
        const body = this.#buffer.take(this.#pending);
        this.#pending = undefined;
        batches.push(decodeBatchBody(body, this.#limits, this.#options));
      }
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.#failed = err;
      this.#buffer.clear();
      return { batches, error: err };
    }
    return { batches };
  }
}
