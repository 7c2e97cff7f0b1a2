// What a block did to the node's records, and how the state commits to it (ADR 0133): the state and
// index writes, events and receipts that executing block h produced, as one canonical CBOR record, and
// a state entry holding its digest. A node that catches up can then take a block's effects from a peer
// instead of executing its transactions, and know they are right once the state root they lead to is
// the certified one: the digest entry is part of that state. Pure: wire only; the digest's SHA-256 is
// the caller's (a node hashes with node:crypto, a client with @noble/hashes).
//
// A chain whose genesis sets `consensus.blockEffects` (which needs `receiptsRoots`) writes, for every
// block h with at least one transaction, the state entry
//   key   = 0x00 || "effects/" || uint64be(h)        (0x00: the framework's reserved key prefix)
//   value = canonical CBOR byte string of SHA-256("vigil/effects/v1" || E)
// where E is the block's effects record, canonical CBOR
//   [stateWrites, indexWrites, receipts, events]
//   stateWrites = [[key: bstr, value: bstr | null] ...]  the block's state writes, nonces and handlers'
//                  (not the receipts-root and effects entries), each key once, in the order each key
//                  was first written in the block; null: deleted
//   indexWrites = [[key: bstr, value: bstr | null] ...]  the handlers' index writes, the same way
//   receipts    = [receipt: bstr ...]  the encoded receipt of every transaction, in position order
//                  (receipts.ts), the same bytes the receipts root is computed over
//   events      = [[position: uint, kind: tstr, data] ...]  events of accepted transactions, in order
// (events last: everything before them is byte strings, which a node reads without a generic decoder)

import { decodeCanonical, encodeCanonical, WireError } from '../wire/index.ts';
import { ProofError } from './errors.ts';
import { blockEntryKey } from './receipts.ts';

const EFFECTS_TAG = new TextEncoder().encode('effects/');
/** Domain separation of the digest (ADR 0133). */
export const EFFECTS_DOMAIN = new TextEncoder().encode('vigil/effects/v1');

/** State key of block `height`'s effects digest: 0x00 || "effects/" || uint64be(height). */
export function blockEffectsKey(height: number): Uint8Array {
  return blockEntryKey(EFFECTS_TAG, height, 'blockEffectsKey');
}

/** The bytes whose SHA-256 is the effects digest: the domain tag followed by the record. */
export function effectsDigestInput(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(EFFECTS_DOMAIN.length + record.length);
  out.set(EFFECTS_DOMAIN, 0);
  out.set(record, EFFECTS_DOMAIN.length);
  return out;
}

/** The state value under blockEffectsKey: the digest as a canonical CBOR byte string. */
export function encodeEffectsDigestValue(digest: Uint8Array): Uint8Array {
  if (digest.length !== 32) throw new RangeError('an effects digest is 32 bytes');
  const out = new Uint8Array(34);
  out[0] = 0x58; // byte string, one-byte length
  out[1] = 32;
  out.set(digest, 2);
  return out;
}

export interface EffectsWrite {
  key: Uint8Array;
  /** undefined: the key was deleted. */
  value: Uint8Array | undefined;
}

export interface EffectsEvent {
  position: number;
  kind: string;
  data: unknown;
}

/** A block's effects record, decoded. */
export interface BlockEffects {
  stateWrites: EffectsWrite[];
  indexWrites: EffectsWrite[];
  events: EffectsEvent[];
  receipts: Uint8Array[];
}

/** Limits a decoder enforces on a record from a peer. */
export interface EffectsLimits {
  maxBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
}

export function encodeBlockEffects(e: BlockEffects): Uint8Array {
  const writes = (list: EffectsWrite[]) => list.map((w) => [w.key, w.value ?? null]);
  return encodeCanonical([
    writes(e.stateWrites),
    writes(e.indexWrites),
    e.receipts,
    e.events.map((ev) => [ev.position, ev.kind, ev.data as never]),
  ] as never);
}

function malformed(message: string): ProofError {
  return new ProofError('MALFORMED_PROOF', `block effects: ${message}`);
}

function decodeWrites(v: unknown, what: string, limits: EffectsLimits): EffectsWrite[] {
  if (!Array.isArray(v)) throw malformed(`${what} is not an array`);
  return v.map((w) => {
    if (!Array.isArray(w) || w.length !== 2 || !(w[0] instanceof Uint8Array))
      throw malformed(`${what}: an entry is [key, value | null]`);
    const value = w[1];
    if (value !== null && !(value instanceof Uint8Array))
      throw malformed(`${what}: a value is bytes or null`);
    if (w[0].length === 0 || w[0].length > limits.maxKeyBytes) throw malformed(`${what}: key length`);
    if (value !== null && value.length > limits.maxValueBytes) throw malformed(`${what}: value length`);
    return { key: w[0], value: value ?? undefined };
  });
}

/** The events element of a decoded record: [[position, kind, data] ...], MALFORMED_PROOF otherwise. */
export function effectsEvents(ev: unknown): EffectsEvent[] {
  if (!Array.isArray(ev)) throw malformed('events is not an array');
  return ev.map((e): EffectsEvent => {
    if (
      !Array.isArray(e) ||
      e.length !== 3 ||
      typeof e[0] !== 'number' ||
      !Number.isSafeInteger(e[0]) ||
      e[0] < 0 ||
      typeof e[1] !== 'string'
    )
      throw malformed('an event is [position, kind, data]');
    return { position: e[0], kind: e[1], data: e[2] };
  });
}

/** Decodes a record from a peer: canonical CBOR of exactly the shape above, within `limits`. */
export function decodeBlockEffects(bytes: Uint8Array, limits: EffectsLimits): BlockEffects {
  let v: unknown;
  try {
    v = decodeCanonical(bytes, { maxBytes: limits.maxBytes });
  } catch (e) {
    if (e instanceof WireError) throw malformed(e.message);
    throw e;
  }
  if (!Array.isArray(v) || v.length !== 4)
    throw malformed('not [stateWrites, indexWrites, receipts, events]');
  const [s, i, r, ev] = v as unknown[];
  const events = effectsEvents(ev);
  if (!Array.isArray(r) || !r.every((x) => x instanceof Uint8Array)) throw malformed('receipts are bytes');
  return {
    stateWrites: decodeWrites(s, 'stateWrites', limits),
    indexWrites: decodeWrites(i, 'indexWrites', limits),
    events,
    receipts: r as Uint8Array[],
  };
}
