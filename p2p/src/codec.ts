// Message encodings of the request/response protocols (sync, status). Both travel inside batch frames
// (frame.ts); these are the payloads. Integers are unsigned big-endian; heights and views are u64 on
// the wire but must be <= 2^53-1 (safe JavaScript integers).
//
// sync request  (one message, 12 bytes): fromHeight:u64  count:u32          (count >= 1)
// sync response (>= 1 messages):         [status:u8]  block{0..count}       (status 0 = ok, 1 = error)
//   each block is an opaque byte string (the node's encoding); the responder may return fewer blocks
//   than asked (a shorter range, or what fits in one frame); the requester verifies every block.
// status request  (one message, 0 bytes)
// status response (one message): height:u64 view:u64 checkpointHeight:u64 digestLen:u8 digest{digestLen}

import { P2PError, P2PErrorCode } from './errors.ts';

export interface BlockRangeRequest {
  fromHeight: number;
  count: number;
}

export interface NodeStatus {
  /** Height of the latest committed block. */
  height: number;
  /** Current PBFT view. */
  view: number;
  /** Latest stable checkpoint: its height and digest (state root or checkpoint digest, <= 64 bytes). */
  checkpoint: { height: number; digest: Uint8Array };
}

export const SyncStatus = { ok: 0, error: 1 } as const;

const MAX_DIGEST_BYTES = 64;

function badRequest(message: string): P2PError {
  return new P2PError(P2PErrorCode.badRequest, message);
}

function writeU64(view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new RangeError(`u64 field must be a safe non-negative integer`);
  view.setBigUint64(at, BigInt(v));
}

function readU64(view: DataView, at: number, field: string): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badRequest(`${field} exceeds 2^53-1`);
  return Number(v);
}

export function encodeBlockRangeRequest(req: BlockRangeRequest): Uint8Array {
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > 0xffffffff) {
    throw new RangeError('count must be an integer in 1..2^32-1');
  }
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  writeU64(view, 0, req.fromHeight);
  view.setUint32(8, req.count);
  return out;
}

export function decodeBlockRangeRequest(bytes: Uint8Array, maxCount: number): BlockRangeRequest {
  if (bytes.byteLength !== 12) throw badRequest(`sync request must be 12 bytes, got ${bytes.byteLength}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fromHeight = readU64(view, 0, 'fromHeight');
  const count = view.getUint32(8);
  if (count < 1) throw badRequest('sync request count must be >= 1');
  return { fromHeight, count: Math.min(count, maxCount) };
}

export function encodeNodeStatus(s: NodeStatus): Uint8Array {
  const d = s.checkpoint.digest;
  if (d.byteLength > MAX_DIGEST_BYTES)
    throw new RangeError(`checkpoint digest longer than ${MAX_DIGEST_BYTES}`);
  const out = new Uint8Array(25 + d.byteLength);
  const view = new DataView(out.buffer);
  writeU64(view, 0, s.height);
  writeU64(view, 8, s.view);
  writeU64(view, 16, s.checkpoint.height);
  out[24] = d.byteLength;
  out.set(d, 25);
  return out;
}

export function decodeNodeStatus(bytes: Uint8Array): NodeStatus {
  if (bytes.byteLength < 25) throw badRequest(`status of ${bytes.byteLength} bytes is too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes[24]!;
  if (len > MAX_DIGEST_BYTES || bytes.byteLength !== 25 + len)
    throw badRequest('status digest length mismatch');
  return {
    height: readU64(view, 0, 'height'),
    view: readU64(view, 8, 'view'),
    checkpoint: { height: readU64(view, 16, 'checkpoint height'), digest: bytes.slice(25) },
  };
}
