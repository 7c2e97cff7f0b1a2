// Signers and verifiers for the simulator.
//
// Fake crypto (the default) makes a run cost hashes instead of curve arithmetic, while keeping the one
// property the protocol relies on: nobody can produce a valid signature for a key whose secret they do
// not hold. A signature is SHA-256(secret || 0x00 || message) || SHA-256(secret || 0x01 || message); the
// verifier recomputes it through a registry that maps public keys to secrets. A Byzantine replica only
// holds its own Signer, so anything it "signs" for another key fails verification, exactly as with
// ed25519. `--real-crypto` uses wire's ed25519 signer and verifier instead.
//
// Metering wraps either kind and counts operations so the driver can charge modelled CPU time to a
// replica's virtual clock (issue #9 needs real ed25519 costs without running real ed25519).

import { sha256 } from '@noble/hashes/sha2.js';
import type { Signer, Verifier } from '../src/wire/index.ts';

const enc = new TextEncoder();

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Fake keys: a registry of secrets, and the one verifier that knows them. */
export class FakeKeyRegistry implements Verifier {
  readonly #secrets = new Map<string, Uint8Array>();

  /** A deterministic key pair for `label` (e.g. "validator/3", "client/12"). */
  signer(label: string): Signer {
    const secret = sha256(concat(enc.encode('vigil-sim/secret/'), enc.encode(label)));
    const publicKey = sha256(concat(enc.encode('vigil-sim/public/'), secret));
    this.#secrets.set(hex(publicKey), secret);
    return {
      publicKey,
      sign: (message: Uint8Array) => fakeSignature(secret, message),
    };
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    const secret = this.#secrets.get(hex(publicKey));
    if (secret === undefined) return false;
    const expected = fakeSignature(secret, message);
    let diff = 0;
    for (let i = 0; i < 64; i++) diff |= expected[i]! ^ signature[i]!;
    return diff === 0;
  }
}

function fakeSignature(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return concat(sha256(concat(secret, u32(0), message)), sha256(concat(secret, u32(1), message)));
}

/** Counts of signature operations, read and reset by the driver after each replica step. */
export class CryptoMeter {
  signs = 0;
  verifies = 0;

  take(): { signs: number; verifies: number } {
    const r = { signs: this.signs, verifies: this.verifies };
    this.signs = 0;
    this.verifies = 0;
    return r;
  }
}

export function meteredSigner(inner: Signer, meter: CryptoMeter): Signer {
  return {
    publicKey: inner.publicKey,
    sign(message: Uint8Array): Uint8Array {
      meter.signs++;
      return inner.sign(message);
    },
  };
}

export function meteredVerifier(inner: Verifier, meter: CryptoMeter): Verifier {
  return {
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      meter.verifies++;
      return inner.verify(signature, message, publicKey);
    },
  };
}

export { concat, hex, u32 };
