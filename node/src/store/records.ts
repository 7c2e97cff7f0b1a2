// Value encodings of the chain database (docs/storage.md). Every value is canonical CBOR, except the
// opaque byte strings that are already canonical CBOR produced elsewhere (encoded blocks and
// certificates from wire, state and index values from the state machine, tree nodes).
import { type CborValue, decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import { encodeTaggedBytesDirect, encodeUintDirect, encodeUintPairDirect } from './cbor-direct.ts';
import { StoreError } from './errors.ts';
import { Slab } from './slab.ts';

/** The result of one transaction in a block (its encoding is part of the protocol: ADR 0123). */
export type { Receipt } from '@vigil/consensus/proof/receipts.ts';
import type { Receipt } from '@vigil/consensus/proof/receipts.ts';

export const MAX_RECORD_BYTES = 1 << 16;

function decode(bytes: Uint8Array, what: string): CborValue {
  try {
    return decodeCanonical(bytes, { maxBytes: MAX_RECORD_BYTES });
  } catch (e) {
    throw new StoreError('CORRUPT_RECORD', `${what}: ${(e as Error).message}`);
  }
}

function corrupt(what: string): never {
  throw new StoreError('CORRUPT_RECORD', `${what} has the wrong shape`);
}

/** Receipt: [0, txId] accepted, [1, code, txId | null] rejected. */
export function encodeReceipt(r: Receipt): Uint8Array {
  // The accepted receipt is one per transaction in a full block: written directly (same bytes).
  return r.status === 'accepted' ? encodeTaggedBytesDirect(0, r.txId) : encodeCanonical([1, r.code, r.txId]);
}

export function decodeReceipt(bytes: Uint8Array): Receipt {
  const v = decode(bytes, 'receipt');
  if (Array.isArray(v)) {
    if (v.length === 2 && v[0] === 0 && v[1] instanceof Uint8Array) return { status: 'accepted', txId: v[1] };
    if (
      v.length === 3 &&
      v[0] === 1 &&
      typeof v[1] === 'string' &&
      (v[2] === null || v[2] instanceof Uint8Array)
    ) {
      return { status: 'rejected', code: v[1], txId: v[2] };
    }
  }
  return corrupt('receipt');
}

/** Transaction index entry: [height, position]. */
export function encodeTxLocation(height: number, position: number): Uint8Array {
  return encodeUintPairDirect(height, position);
}

const locationSlab = new Slab();

/** encodeTxLocation carved from a slab, for a value that only goes into a batch (store/slab.ts). */
export function encodeTxLocationForBatch(height: number, position: number): Uint8Array {
  const plain = encodeUintPairDirect(height, position);
  const out = locationSlab.alloc(plain.length);
  out.set(plain);
  return out;
}

export function decodeTxLocation(bytes: Uint8Array): { height: number; position: number } {
  const v = decode(bytes, 'tx index entry');
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') {
    return { height: v[0], position: v[1] };
  }
  return corrupt('tx index entry');
}

export function encodeUint(n: number): Uint8Array {
  return encodeUintDirect(n);
}

export function decodeUint(bytes: Uint8Array, what: string): number {
  const v = decode(bytes, what);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  return corrupt(what);
}

export function encodeBytes(b: Uint8Array): Uint8Array {
  return encodeCanonical(b);
}

export function decodeBytes(bytes: Uint8Array, what: string, length?: number): Uint8Array {
  const v = decode(bytes, what);
  if (v instanceof Uint8Array && (length === undefined || v.length === length)) return v;
  return corrupt(what);
}

export function encodeText(s: string): Uint8Array {
  return encodeCanonical(s);
}

export function decodeText(bytes: Uint8Array, what: string): string {
  const v = decode(bytes, what);
  if (typeof v === 'string') return v;
  return corrupt(what);
}

export function encodeKeyList(list: readonly Uint8Array[]): Uint8Array {
  return encodeCanonical([...list]);
}

/**
 * A 'D' record's entry (ADR 0116, 0117): a changed state key with its value after the block (null:
 * deleted), or only the key (schema 4, written when every height has its own root: the value is then
 * the flat copy's).
 */
export interface StateChangeEntry {
  key: Uint8Array;
  /** undefined: not recorded (read the flat copy); null: deleted. */
  value: Uint8Array | null | undefined;
}

/** 'D' record with values (schema 5): [[key, value | null]...]. */
export function encodeChangeList(
  list: readonly { key: Uint8Array; value: Uint8Array | undefined }[],
): Uint8Array {
  return encodeCanonical(list.map((w) => [w.key, w.value ?? null]));
}

/** A 'D' record of either form: [key...] (schema 4) or [[key, value | null]...] (schema 5). */
export function decodeChangeList(bytes: Uint8Array, what: string): StateChangeEntry[] {
  const v = decode(bytes, what);
  if (!Array.isArray(v)) return corrupt(what);
  return v.map((x): StateChangeEntry => {
    if (x instanceof Uint8Array) return { key: x, value: undefined };
    if (
      Array.isArray(x) &&
      x.length === 2 &&
      x[0] instanceof Uint8Array &&
      (x[1] === null || x[1] instanceof Uint8Array)
    )
      return { key: x[0], value: x[1] };
    return corrupt(what);
  });
}

export function decodeKeyList(bytes: Uint8Array, what: string): Uint8Array[] {
  const v = decode(bytes, what);
  if (Array.isArray(v) && v.every((x) => x instanceof Uint8Array)) return v as Uint8Array[];
  return corrupt(what);
}
