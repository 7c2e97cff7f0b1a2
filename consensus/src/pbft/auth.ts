// Signature checking with a bounded cache of verified messages, so a message that arrives directly and
// again inside a VIEW-CHANGE or NEW-VIEW proof is verified once (docs/consensus.md "Authentication").

import { sha256, type Verifier } from '../wire/index.ts';
import { hex } from './bytes.ts';
import { messageSignBytes, type PbftMessage } from './messages.ts';

export class Authenticator {
  readonly #chainId: string;
  readonly #validators: readonly Uint8Array[];
  readonly #verifier: Verifier;
  readonly #capacity: number;
  /** Insertion-ordered, so the oldest entry is evicted first. */
  readonly #verified = new Map<string, true>();
  verifications = 0;

  constructor(chainId: string, validators: readonly Uint8Array[], verifier: Verifier, capacity = 8192) {
    this.#chainId = chainId;
    this.#validators = validators;
    this.#verifier = verifier;
    this.#capacity = capacity;
  }

  /** True when `m.signature` is `m.replica`'s signature over `m`'s sign bytes. */
  verify(m: PbftMessage): boolean {
    const key = this.#validators[m.replica];
    if (key === undefined) return false;
    const signBytes = messageSignBytes(this.#chainId, m);
    const digest = hex(sha256(signBytes, m.signature, Uint8Array.of(m.replica & 0xff, m.replica >>> 8)));
    if (this.#verified.has(digest)) return true;
    let ok = false;
    try {
      this.verifications++;
      ok = this.#verifier.verify(m.signature, signBytes, key);
    } catch {
      ok = false;
    }
    if (ok) {
      this.#verified.set(digest, true);
      if (this.#verified.size > this.#capacity) {
        const oldest = this.#verified.keys().next().value;
        if (oldest !== undefined) this.#verified.delete(oldest);
      }
    }
    return ok;
  }

  get cacheSize(): number {
    return this.#verified.size;
  }
}
