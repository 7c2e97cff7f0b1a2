// A block's effects record (consensus/src/proof/effects.ts, ADR 0133), written directly on the
// executor's hot path, its digest hashed with node:crypto, and the record a synced block arrived with.
// The generic canonical encoder and decoder run per item (the decoder copying every byte string), and a
// block's record holds several items per transaction: the byte strings are framed and read here, as
// views into the record, and only the (rare) events go through the generic code.
// block-effects.test.ts checks that both agree with consensus/src/proof/effects.ts byte for byte and on
// what they refuse.
import { createHash } from 'node:crypto';
import type { Block, CommitCertificate } from '@vigil/consensus/wire';
import { decodeCanonical, encodeCanonical, WireError } from '@vigil/consensus/wire';
import {
  type BlockEffects,
  EFFECTS_DOMAIN,
  effectsEvents,
  type EffectsWrite,
  encodeEffectsDigestValue,
} from '@vigil/consensus/proof/effects.ts';
import { ProofError } from '@vigil/consensus/proof/errors.ts';
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
 * The canonical record [stateWrites, indexWrites, receipts, events]. The writes are the overlays' (each
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
  o = writeHead(out, o, 4, receipts.length);
  for (const r of receipts) o = bytesAt(out, o, r);
  out.set(eventBytes, o);
  return out;
}

/** The state value under blockEffectsKey for a record: CBOR bstr(SHA-256(domain || record)). */
export function effectsDigestValue(record: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(EFFECTS_DOMAIN).update(record).digest();
  return encodeEffectsDigestValue(new Uint8Array(digest.buffer, digest.byteOffset, digest.length));
}

function malformed(message: string): ProofError {
  return new ProofError('MALFORMED_PROOF', `block effects: ${message}`);
}

/** A reader of canonical CBOR heads over one record (RFC 8949 §4.2.1: shortest form, definite). */
class Reader {
  o = 0;
  readonly b: Uint8Array;
  constructor(b: Uint8Array) {
    this.b = b;
  }

  /** The argument of a head of major type `major` (or, for null, -1 where `nullable`). */
  head(major: number, what: string, nullable = false): number {
    const b = this.b;
    if (this.o >= b.length) throw malformed(`${what}: truncated`);
    const first = b[this.o++]!;
    if (nullable && first === 0xf6) return -1;
    if (first >> 5 !== major) throw malformed(`${what}: wrong type`);
    const info = first & 0x1f;
    if (info < 24) return info;
    const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (len === 0) throw malformed(`${what}: indefinite or reserved length`);
    if (this.o + len > b.length) throw malformed(`${what}: truncated`);
    let n = 0;
    for (let i = 0; i < len; i++) n = n * 256 + b[this.o + i]!;
    this.o += len;
    const min = len === 1 ? 24 : len === 2 ? 0x100 : len === 4 ? 0x10000 : 0x1_0000_0000;
    if (n < min) throw malformed(`${what}: not the shortest head`);
    if (!Number.isSafeInteger(n)) throw malformed(`${what}: length out of range`);
    return n;
  }

  /** A byte string, as a view into the record (undefined for null where `nullable`). */
  bytes(what: string, max: number, nullable = false): Uint8Array | undefined {
    const n = this.head(2, what, nullable);
    if (n < 0) return undefined;
    if (n > max) throw malformed(`${what}: ${n} bytes`);
    if (this.o + n > this.b.length) throw malformed(`${what}: truncated`);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }

  /** `copy`: keys and values copied out of the record (they outlive it in caches), else views. */
  writes(what: string, copy: boolean): EffectsWrite[] {
    const n = this.head(4, what);
    if (n > this.b.length) throw malformed(`${what}: ${n} entries`);
    const out: EffectsWrite[] = new Array(n);
    for (let i = 0; i < n; i++) {
      if (this.head(4, what) !== 2) throw malformed(`${what}: an entry is [key, value | null]`);
      const key = this.bytes(`${what} key`, MAX_KEY_BYTES)!;
      if (key.length === 0) throw malformed(`${what}: empty key`);
      const value = this.bytes(`${what} value`, MAX_VALUE_BYTES, true);
      out[i] = copy ? { key: key.slice(), value: value?.slice() } : { key, value };
    }
    return out;
  }
}

/**
 * Decodes a record from a peer within the executor's own write limits: what consensus's
 * decodeBlockEffects accepts, and the same values, but byte strings are views into `bytes` (which the
 * caller keeps unchanged) and only the events go through the generic decoder.
 */
export function decodeEffectsRecord(bytes: Uint8Array): BlockEffects {
  if (bytes.length > MAX_EFFECTS_BYTES) throw malformed(`${bytes.length} bytes`);
  const r = new Reader(bytes);
  if (r.head(4, 'record') !== 4) throw malformed('not [stateWrites, indexWrites, receipts, events]');
  // State values stay in the read cache and the pending tree changes after the batch: copied, so that
  // they do not keep whole records alive. Index writes and receipts only go into the batch.
  const stateWrites = r.writes('stateWrites', true);
  const indexWrites = r.writes('indexWrites', false);
  const count = r.head(4, 'receipts');
  if (count > bytes.length) throw malformed(`receipts: ${count} entries`);
  const receipts: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) receipts[i] = r.bytes('receipt', bytes.length)!;
  let ev: unknown;
  try {
    // The rest is exactly one item: the events.
    ev = decodeCanonical(bytes.subarray(r.o), { maxBytes: MAX_EFFECTS_BYTES });
  } catch (e) {
    if (e instanceof WireError) throw malformed(`events: ${e.message}`);
    throw e;
  }
  const events = effectsEvents(ev);
  return { stateWrites, indexWrites, receipts, events };
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

const later = new WeakMap<Block, readonly { block: Block; certificate: CommitCertificate }[]>();

/**
 * Certified blocks that follow `block` but are applied in a later call (block sync holds back what no
 * header of its batch cites yet): the executor may read their headers' citations for a range ending at
 * or before `block`. Only headers are read from them, after their certificates verify.
 */
export function rememberLaterBlocks(
  block: Block,
  blocks: readonly { block: Block; certificate: CommitCertificate }[],
): void {
  later.set(block, blocks);
}

export function laterBlocksOf(block: Block): readonly { block: Block; certificate: CommitCertificate }[] {
  return later.get(block) ?? [];
}
