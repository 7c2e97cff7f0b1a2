// A block's effects record (consensus/src/proof/effects.ts, ADR 0133), written directly on the
// executor's hot path, its digest hashed with node:crypto, and the record a synced block arrived with.
// The generic canonical encoder runs a validating pass per item; a block's record holds several items
// per transaction, so the byte strings are framed here and only the (rare) events go through it.
// block-effects.test.ts checks byte equality with encodeBlockEffects.
import { createHash } from 'node:crypto';
import type { Block } from '@vigil/consensus/wire';
import { encodeCanonical } from '@vigil/consensus/wire';
import {
  type BlockEffects,
  decodeBlockEffects,
  EFFECTS_DOMAIN,
  encodeEffectsDigestValue,
} from '@vigil/consensus/proof/effects.ts';
import { headLength, writeHead } from '../store/cbor-direct.ts';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES, type Write } from './overlay.ts';
import type { ChainEvent } from './types.ts';

/** Most bytes of one block's effects record a node accepts from a peer (a block is at most a few MiB). */
export const MAX_EFFECTS_BYTES = 16 * 1024 * 1024;

function writesSize(list: readonly Write[]): number {
  let n = headLength(list.length);
  for (const w of list) {
    n += 1 + headLength(w.key.length) + w.key.length;
    n += w.value === undefined ? 1 : headLength(w.value.length) + w.value.length;
  }
  return n;
}

function bytesAt(out: Uint8Array, o: number, b: Uint8Array): number {
  o = writeHead(out, o, 2, b.length);
  out.set(b, o);
  return o + b.length;
}

function writeWrites(out: Uint8Array, o: number, list: readonly Write[]): number {
  o = writeHead(out, o, 4, list.length);
  for (const w of list) {
    out[o++] = 0x82;
    o = bytesAt(out, o, w.key);
    if (w.value === undefined) out[o++] = 0xf6;
    else o = bytesAt(out, o, w.value);
  }
  return o;
}

/**
 * The canonical record [stateWrites, indexWrites, events, receipts]. The writes are the overlays' (each
 * key once, in first-written order); `receipts` the encoded receipts in position order.
 */
export function encodeEffectsRecord(
  stateWrites: readonly Write[],
  indexWrites: readonly Write[],
  events: readonly { position: number; event: ChainEvent }[],
  receipts: readonly Uint8Array[],
): Uint8Array {
  const eventBytes = encodeCanonical(events.map((e) => [e.position, e.event.kind, e.event.data]) as never);
  let size = 1 + writesSize(stateWrites) + writesSize(indexWrites) + eventBytes.length;
  size += headLength(receipts.length);
  for (const r of receipts) size += headLength(r.length) + r.length;
  const out = new Uint8Array(size);
  out[0] = 0x84;
  let o = writeWrites(out, 1, stateWrites);
  o = writeWrites(out, o, indexWrites);
  out.set(eventBytes, o);
  o += eventBytes.length;
  o = writeHead(out, o, 4, receipts.length);
  for (const r of receipts) o = bytesAt(out, o, r);
  return out;
}

/** The state value under blockEffectsKey for a record: CBOR bstr(SHA-256(domain || record)). */
export function effectsDigestValue(record: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(EFFECTS_DOMAIN).update(record).digest();
  return encodeEffectsDigestValue(new Uint8Array(digest.buffer, digest.byteOffset, digest.length));
}

/** Decodes a record from a peer within the executor's own write limits. */
export function decodeEffectsRecord(bytes: Uint8Array): BlockEffects {
  return decodeBlockEffects(bytes, {
    maxBytes: MAX_EFFECTS_BYTES,
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes: MAX_VALUE_BYTES,
  });
}

const synced = new WeakMap<Block, Uint8Array>();

/**
 * The effects record a synced block arrived with (block-sync.ts), for the executor's catch-up without
 * execution. Kept beside the block object, not in consensus's CommittedBlock: the record is only ever
 * a claim, which the executor checks through the certified state root before anything is written.
 */
export function rememberBlockEffects(block: Block, record: Uint8Array): void {
  synced.set(block, record);
}

export function syncedEffectsOf(block: Block): Uint8Array | undefined {
  return synced.get(block);
}
