// State and index key layout (docs/state-machine.md, "Key layout"). Every key starts with `sm/` so the
// state machine's records never collide with the framework's (nonces, chain metadata), then a short
// record-type tag and `/`, then fixed-width binary parts: 32-byte public keys, 8-byte big-endian
// integers (so byte order = numeric order for range scans), or length-prefixed UTF-8 text.

type Part = Uint8Array | string | number;
const utf8 = new TextEncoder();

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

export function readU64(b: Uint8Array, offset: number): number {
  return Number(new DataView(b.buffer, b.byteOffset + offset, 8).getBigUint64(0));
}

function encodePart(p: Part): Uint8Array {
  if (typeof p === 'number') return u64(p);
  if (typeof p === 'string') {
    const t = utf8.encode(p);
    if (t.length > 255) throw new RangeError('key text part longer than 255 bytes');
    const out = new Uint8Array(t.length + 1);
    out[0] = t.length; // org ids, parameter names and alert causes are all short
    out.set(t, 1);
    return out;
  }
  return p;
}

export function makeKey(tag: string, ...parts: Part[]): Uint8Array {
  const encoded = [utf8.encode(`sm/${tag}/`), ...parts.map(encodePart)];
  const out = new Uint8Array(encoded.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of encoded) {
    out.set(p, o);
    o += p.length;
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
} as const;
