// The wire format between the pool and its workers: many checks packed into ONE ArrayBuffer that is
// transferred (not copied) with postMessage, because structured-cloning hundreds of small Uint8Arrays
// per message costs more than verifying them.
//   request:  u32 count, then per check: signature(64) publicKey(32) u32 messageLength message
//   response: one byte per check, 1 = valid
import type { SignatureCheck } from './types.ts';

export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;

/** Whether a check has the fixed sizes the packing needs (anything else is simply invalid). */
export function isWellSized(c: SignatureCheck): boolean {
  return c.signature.length === SIGNATURE_BYTES && c.publicKey.length === PUBLIC_KEY_BYTES;
}

export function packChecks(checks: readonly SignatureCheck[]): ArrayBuffer {
  let size = 4;
  for (const c of checks) size += SIGNATURE_BYTES + PUBLIC_KEY_BYTES + 4 + c.message.length;
  const buf = new ArrayBuffer(size);
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  view.setUint32(0, checks.length);
  let o = 4;
  for (const c of checks) {
    bytes.set(c.signature, o);
    o += SIGNATURE_BYTES;
    bytes.set(c.publicKey, o);
    o += PUBLIC_KEY_BYTES;
    view.setUint32(o, c.message.length);
    o += 4;
    bytes.set(c.message, o);
    o += c.message.length;
  }
  return buf;
}

/** Unpacks into views over `buf` (no copies). */
export function unpackChecks(buf: ArrayBuffer): SignatureCheck[] {
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  const count = view.getUint32(0);
  const out: SignatureCheck[] = new Array(count);
  let o = 4;
  for (let i = 0; i < count; i++) {
    const signature = bytes.subarray(o, o + SIGNATURE_BYTES);
    o += SIGNATURE_BYTES;
    const publicKey = bytes.subarray(o, o + PUBLIC_KEY_BYTES);
    o += PUBLIC_KEY_BYTES;
    const len = view.getUint32(o);
    o += 4;
    const message = bytes.subarray(o, o + len);
    o += len;
    out[i] = { signature, publicKey, message };
  }
  return out;
}
