// Durable store-and-forward queue of signed transactions (Node only). ADR 0060 records the design.
//
// One append-only log file of frames:
//   type u8 | seq u64 BE | length u32 BE | crc32 u32 BE (over type..length and payload) | payload
//   type 1 ENQUEUE: payload = the queued bytes (signed transaction + metadata, opaque here)
//   type 2 ACK:     payload empty; entry `seq` is delivered and may be forgotten
//   type 3 REPLACE: payload = new bytes for pending entry `seq` (a re-signed transaction)
// Every append is followed by fsync before the call returns, so a returned enqueue survives power loss.
// On open the log is replayed; a torn or corrupt tail (a crash mid-append) is cut off at the last good
// frame. When most of the file is acknowledged it is compacted: pending entries are written to a new
// file which atomically replaces the old one.
//
// Bounds: `maxEntries` pending entries and `maxBytes` pending payload bytes. When full, enqueue throws
// QUEUE_FULL and the reading is NOT taken (ADR 0060 explains why we refuse new rather than drop old).

import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { SdkError } from './errors.ts';
import { fsyncDir } from './fsutil.ts';

const HEADER = 17;
const T_ENQUEUE = 1;
const T_ACK = 2;
const T_REPLACE = 3;
/** Largest single payload: a signed transaction (64 KiB) plus metadata. */
export const MAX_QUEUE_PAYLOAD = 256 * 1024;

export interface QueueEntry {
  seq: number;
  payload: Uint8Array;
}

export interface QueueOptions {
  maxEntries?: number;
  maxBytes?: number;
}

export interface QueueRecovery {
  /** Bytes cut from the end of the log because they did not form a complete, checksummed frame. */
  truncatedBytes: number;
}

function frame(type: number, seq: number, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(HEADER + payload.length);
  buf.writeUInt8(type, 0);
  buf.writeBigUInt64BE(BigInt(seq), 1);
  buf.writeUInt32BE(payload.length, 9);
  buf.set(payload, HEADER);
  const crc = crc32(buf.subarray(HEADER), crc32(buf.subarray(0, 13)));
  buf.writeUInt32BE(crc >>> 0, 13);
  return buf;
}

export class DurableQueue {
  readonly path: string;
  readonly recovery: QueueRecovery;
  private fd: number;
  private readonly pending = new Map<number, Uint8Array>();
  private nextSeq = 1;
  private pendingBytes = 0;
  private fileBytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private closed = false;

  private constructor(path: string, opts: QueueOptions) {
    this.path = path;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.fd = openSync(path, 'a+', 0o600);
    this.recovery = this.replay();
  }

  static open(path: string, opts: QueueOptions = {}): DurableQueue {
    return new DurableQueue(path, opts);
  }

  get size(): number {
    return this.pending.size;
  }

  get bytes(): number {
    return this.pendingBytes;
  }

  get capacity(): { maxEntries: number; maxBytes: number } {
    return { maxEntries: this.maxEntries, maxBytes: this.maxBytes };
  }

  /** Appends durably; returns the entry's sequence number. Throws QUEUE_FULL when at a bound. */
  enqueue(payload: Uint8Array): number {
    this.assertOpen();
    if (payload.length === 0 || payload.length > MAX_QUEUE_PAYLOAD) {
      throw new RangeError(`queue payload must be 1..${MAX_QUEUE_PAYLOAD} bytes`);
    }
    if (this.pending.size >= this.maxEntries || this.pendingBytes + payload.length > this.maxBytes) {
      throw new SdkError(
        'QUEUE_FULL',
        `store-and-forward queue full (${this.pending.size} entries, ${this.pendingBytes} bytes): reading refused`,
      );
    }
    const seq = this.nextSeq;
    this.append(frame(T_ENQUEUE, seq, payload));
    this.nextSeq++;
    // Copy: the caller may reuse its buffer, and the queue must hold what was fsynced.
    this.pending.set(seq, payload.slice());
    this.pendingBytes += payload.length;
    return seq;
  }

  /** Pending entries, oldest first. */
  peek(max = Number.POSITIVE_INFINITY): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const [seq, payload] of this.pending) {
      if (out.length >= max) break;
      out.push({ seq, payload });
    }
    return out;
  }

  /** Marks an entry delivered. Acknowledging an unknown seq is a no-op (idempotent). */
  ack(seq: number): void {
    this.assertOpen();
    const p = this.pending.get(seq);
    if (!p) return;
    this.append(frame(T_ACK, seq, new Uint8Array(0)));
    this.pending.delete(seq);
    this.pendingBytes -= p.length;
    this.maybeCompact();
  }

  /** Durably replaces a pending entry's payload (same seq, same position in the order). */
  replace(seq: number, payload: Uint8Array): void {
    this.assertOpen();
    const old = this.pending.get(seq);
    if (!old) throw new RangeError(`no pending queue entry ${seq}`);
    if (payload.length === 0 || payload.length > MAX_QUEUE_PAYLOAD)
      throw new RangeError('bad queue payload size');
    this.append(frame(T_REPLACE, seq, payload));
    this.pending.set(seq, payload.slice());
    this.pendingBytes += payload.length - old.length;
    // A replaced version is as dead as an acknowledged entry: during a long outage re-signing appends
    // REPLACE frames with no ack in sight, so compaction must be considered here too.
    this.maybeCompact();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** Rewrites the log with only the pending entries (atomic rename). */
  compact(): void {
    this.assertOpen();
    const tmp = `${this.path}.compact`;
    const fd = openSync(tmp, 'w', 0o600);
    let size = 0;
    try {
      for (const [seq, payload] of this.pending) {
        const f = frame(T_ENQUEUE, seq, payload);
        writeAll(fd, f);
        size += f.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    fsyncDir(dirname(this.path));
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a+', 0o600);
    this.fileBytes = size;
  }

  private maybeCompact(): void {
    // Amortised: compact when the file is at least 1 MiB and mostly acknowledged frames.
    if (this.fileBytes >= 1 << 20 && this.fileBytes > 4 * (this.pendingBytes + HEADER * this.pending.size)) {
      this.compact();
    }
  }

  private append(buf: Buffer): void {
    writeAll(this.fd, buf);
    fsyncSync(this.fd);
    this.fileBytes += buf.length;
  }

  private assertOpen(): void {
    if (this.closed) throw new SdkError('CLOSED', 'queue is closed');
  }

  private replay(): QueueRecovery {
    const data = readFileSync(this.path);
    let off = 0;
    while (off + HEADER <= data.length) {
      const type = data.readUInt8(off);
      const seqBig = data.readBigUInt64BE(off + 1);
      const len = data.readUInt32BE(off + 9);
      const crc = data.readUInt32BE(off + 13);
      if (type < T_ENQUEUE || type > T_REPLACE || len > MAX_QUEUE_PAYLOAD || off + HEADER + len > data.length)
        break;
      const payload = data.subarray(off + HEADER, off + HEADER + len);
      if (crc32(payload, crc32(data.subarray(off, off + 13))) >>> 0 !== crc) break;
      if (seqBig > BigInt(Number.MAX_SAFE_INTEGER)) break;
      const seq = Number(seqBig);
      const copy = new Uint8Array(payload);
      if (type === T_ENQUEUE) {
        if (seq < this.nextSeq) {
          throw new SdkError('QUEUE_CORRUPT', `${this.path}: sequence ${seq} out of order at byte ${off}`);
        }
        this.pending.set(seq, copy);
        this.pendingBytes += len;
        this.nextSeq = seq + 1;
      } else if (type === T_ACK) {
        const p = this.pending.get(seq);
        if (p) {
          this.pending.delete(seq);
          this.pendingBytes -= p.length;
        }
      } else {
        const p = this.pending.get(seq);
        if (p) {
          this.pending.set(seq, copy);
          this.pendingBytes += len - p.length;
        }
      }
      off += HEADER + len;
    }
    const truncatedBytes = data.length - off;
    if (truncatedBytes > 0) {
      // A crash mid-append leaves a partial frame: cut it so new frames follow the last good one.
      ftruncateSync(this.fd, off);
      fsyncSync(this.fd);
    }
    this.fileBytes = off;
    if (fstatSync(this.fd).size !== off) throw new SdkError('QUEUE_CORRUPT', `${this.path}: truncate failed`);
    return { truncatedBytes };
  }
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
