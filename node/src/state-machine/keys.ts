// State and index key layout (docs/state-machine.md, "Key layout"). Every key starts with `sm/` so the
// state machine's records never collide with the framework's (nonces, chain metadata), then a short
// record-type tag and `/`, then fixed-width binary parts: 32-byte public keys, 8-byte big-endian
// integers (so byte order = numeric order for range scans), or length-prefixed UTF-8 text.

import { writeU64be as writeU64 } from '../store/keys.ts';

type Part = Uint8Array | string | number;
const utf8 = new TextEncoder();

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, n);
  return b;
}

export function readU64(b: Uint8Array, offset: number): number {
  return Number(new DataView(b.buffer, b.byteOffset + offset, 8).getBigUint64(0));
}

/** `sm/<tag>/` in UTF-8, per tag: a handful of tags, and a transaction builds a dozen keys. */
const tagPrefixes = new Map<string, Uint8Array>();

function tagPrefix(tag: string): Uint8Array {
  let p = tagPrefixes.get(tag);
  if (p === undefined) {
    p = utf8.encode(`sm/${tag}/`);
    tagPrefixes.set(tag, p);
  }
  return p;
}

function textPart(p: string): Uint8Array {
  const t = utf8.encode(p);
  // org ids, parameter names and alert causes are all short
  if (t.length > 255) throw new RangeError('key text part longer than 255 bytes');
  return t;
}

/**
 * The key `sm/<tag>/` followed by each part: a number as 8 big-endian bytes, a string as a length byte
 * and its UTF-8, bytes as they are. Written straight into one array: state keys are built for every
 * record a transaction reads or writes, and the generic version (an array per part, a BigInt per
 * number) was several percent of block execution (bench -- replay profile, 2026-12-05).
 */
export function makeKey(tag: string, ...parts: Part[]): Uint8Array {
  const prefix = tagPrefix(tag);
  let length = prefix.length;
  let texts: Uint8Array[] | undefined;
  for (const p of parts) {
    if (typeof p === 'number') length += 8;
    else if (typeof p === 'string') {
      const t = textPart(p);
      if (texts === undefined) texts = [];
      texts.push(t);
      length += 1 + t.length;
    } else length += p.length;
  }
  const out = new Uint8Array(length);
  out.set(prefix, 0);
  let o = prefix.length;
  let k = 0;
  for (const p of parts) {
    if (typeof p === 'number') {
      writeU64(out, o, p);
      o += 8;
    } else if (typeof p === 'string') {
      const t = texts![k++]!;
      out[o] = t.length;
      out.set(t, o + 1);
      o += 1 + t.length;
    } else {
      out.set(p, o);
      o += p.length;
    }
  }
  return out;
}

/** The smallest key greater than every key that starts with `prefix` (for exclusive range ends). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0xff, 0xff, 0xff, 0xff]);
}

export const Keys = {
  /** All chain parameters in one record: one read per transaction. */
  params: () => makeKey('params'),
  org: (orgId: string) => makeKey('org', orgId),
  orgList: () => makeKey('orgs'),
  validators: () => makeKey('validators'),
  actor: (pk: Uint8Array) => makeKey('actor', pk),
  patient: (pk: Uint8Array) => makeKey('patient', pk),
  device: (pk: Uint8Array) => makeKey('device', pk),
  deviceSeq: (deviceId: Uint8Array) => makeKey('devseq', deviceId),
  proposal: (id: Uint8Array) => makeKey('gov', id),
  grants: (patient: Uint8Array) => makeKey('grants', patient),
  emergencies: (patient: Uint8Array) => makeKey('emerg', patient),
  latest: (patient: Uint8Array) => makeKey('latest', patient),
  policy: (patient: Uint8Array) => makeKey('policy', patient),
  news2: (patient: Uint8Array) => makeKey('news2', patient),
  alertSeq: (patient: Uint8Array) => makeKey('alertseq', patient),
  alert: (patient: Uint8Array, seq: number) => makeKey('alert', patient, seq),
  alertPrefix: (patient: Uint8Array) => makeKey('alert', patient),
  openAlert: (patient: Uint8Array, cause: string) => makeKey('alertopen', patient, cause),
} as const;

/**
 * What an entry of the access index (ADR 0130) records, in key order: a grant to a key, a grant to an
 * organisation, a clinician's break-glass access, a guardianship. `holder` is the key named (the
 * organisation id for kind 2).
 */
export const AccessKind = { keyGrant: 1, orgGrant: 2, emergency: 3, guardian: 4 } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/** The expiry recorded for a guardianship, which has none: sorts after every real time. */
export const NO_EXPIRY = Number.MAX_SAFE_INTEGER;

function u32(n: number): Uint8Array {
  return u64(n).subarray(4);
}

/** Non-merkleised index keys (IndexAccess): derived from blocks, rebuilt if lost. */
export const IndexKeys = {
  reading: (patient: Uint8Array, kind: number, measuredAt: number, source: Uint8Array) =>
    makeKey('rd', patient, new Uint8Array([kind]), measuredAt, source),
  readingSeries: (patient: Uint8Array, kind: number) => makeKey('rd', patient, new Uint8Array([kind])),
  readingFrom: (patient: Uint8Array, kind: number, t: number) =>
    makeKey('rd', patient, new Uint8Array([kind]), t),
  audit: (patient: Uint8Array, height: number, position: number, sub: number) =>
    makeKey('audit', patient, height, u64(position).subarray(4), new Uint8Array([sub >> 8, sub & 0xff])),
  auditPrefix: (patient: Uint8Array) => makeKey('audit', patient),
  /**
   * An alert raised at execution, by block height, position of its transaction and sequence (ADR 0130):
   * the events route sends a reconnecting subscriber the alerts of the blocks it missed from here.
   */
  raisedAlert: (height: number, position: number, patient: Uint8Array, seq: number) =>
    makeKey('raised', height, u32(position), patient, seq),
  raisedFrom: (height: number) => makeKey('raised', height),
  /**
   * Who holds access to which patient (ADR 0130): `<kind><holder><expiresAt><patient><id>`, the id a
   * grant's or break-glass access's (none for a guardianship). By expiry within a holder, so a scan
   * from "now" passes over nothing expired.
   */
  access: (
    kind: AccessKind,
    holder: Uint8Array | string,
    expiresAt: number,
    patient: Uint8Array,
    id?: Uint8Array,
  ) =>
    id === undefined
      ? makeKey('access', Uint8Array.of(kind), holder, expiresAt, patient)
      : makeKey('access', Uint8Array.of(kind), holder, expiresAt, patient, id),
  accessOf: (kind: AccessKind, holder: Uint8Array | string) => makeKey('access', Uint8Array.of(kind), holder),
  accessFrom: (kind: AccessKind, holder: Uint8Array | string, expiresAfter: number) =>
    makeKey('access', Uint8Array.of(kind), holder, expiresAfter),
} as const;
