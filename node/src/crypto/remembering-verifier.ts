// A Verifier that remembers the signatures it has accepted, so the same (signature, message, key) checked
// again costs a lookup and a byte comparison instead of an Ed25519 verification.
//
// Why: a block committed live carries a commit certificate made of the very COMMIT signatures the
// replica verified on receipt (2f + 1 of them). The executor re-checks the certificate before it writes
// the block (defence in depth: it trusts nothing the replica hands it without proof), which cost every
// validator 2f + 1 extra verifications per block: about a third of its consensus-side verifications in
// the issue 9 profile (verifyCommitCertificate 250 samples against 555 for all PBFT messages). Sharing
// one remembering verifier between the replica and the executor makes that re-check free.
//
// Safety: only accepted signatures are remembered, and a hit needs the exact signature, public key and
// message bytes that verified (compared in full, not by hash), so the answer is the verifier's own
// answer for those bytes: Ed25519 verification is a pure function of them.
import type { Signer, Verifier } from '@vigil/consensus/wire';
import { LRUCache } from 'lru-cache';

export const DEFAULT_REMEMBERED_SIGNATURES = 16_384;
/**
 * Only messages up to this size are remembered: votes (PREPARE, COMMIT, CHECKPOINT, certificate votes)
 * are about 100 bytes, while a VIEW-CHANGE or NEW-VIEW carries whole blocks and is checked once anyway.
 * This bounds the memory at capacity x this size (16 MiB by default).
 */
export const MAX_REMEMBERED_MESSAGE_BYTES = 1024;

export interface RememberingVerifier extends Verifier {
  /** Checks answered from memory (for metrics and tests). */
  readonly hits: number;
  /** Checks passed to the inner verifier. */
  readonly misses: number;
  /**
   * Records a signature this process made itself with the private key of `publicKey` (see
   * rememberingSigner): the replica never verifies its own votes, but its own COMMIT is one of the
   * certificate's votes.
   */
  remember(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void;
}

/** latin1 maps each byte to one UTF-16 unit: a compact, collision-free key. */
function bytesKey(a: Uint8Array, b: Uint8Array): string {
  return String.fromCharCode(...a) + String.fromCharCode(...b);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export function createRememberingVerifier(
  inner: Verifier,
  capacity = DEFAULT_REMEMBERED_SIGNATURES,
): RememberingVerifier {
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be >= 1');
  // Keyed by signature and public key; the message is compared on a hit. lru-cache, not a Map evicted
  // through keys().next() (O(deleted slots) per eviction in V8: docs/benchmarks-log.md, the bottleneck list, item 7).
  const accepted = new LRUCache<string, Uint8Array>({ max: capacity });
  let hits = 0;
  let misses = 0;
  return {
    get hits() {
      return hits;
    },
    get misses() {
      return misses;
    },
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
      if (!(message instanceof Uint8Array)) return false;
      const key = bytesKey(signature, publicKey);
      const seen = accepted.get(key);
      if (seen !== undefined && sameBytes(seen, message)) {
        hits++;
        return true;
      }
      misses++;
      const ok = inner.verify(signature, message, publicKey);
      // A copy: the caller may reuse or mutate its buffer afterwards.
      if (ok && message.length <= MAX_REMEMBERED_MESSAGE_BYTES) accepted.set(key, Uint8Array.from(message));
      return ok;
    },
    remember(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void {
      if (message.length > MAX_REMEMBERED_MESSAGE_BYTES) return;
      accepted.set(bytesKey(signature, publicKey), Uint8Array.from(message));
    },
  };
}

/**
 * A signer whose every signature is remembered as accepted by `verifier` under the signer's own public
 * key. Sound because the signer is this process's (node:crypto's RFC 8032 signing is checked byte for
 * byte against @noble's in fast-signer.test.ts); a signature made for one message is remembered for
 * that message only.
 */
export function rememberingSigner(signer: Signer, verifier: RememberingVerifier): Signer {
  return {
    publicKey: signer.publicKey,
    sign(message: Uint8Array): Uint8Array {
      const signature = signer.sign(message);
      verifier.remember(signature, message, signer.publicKey);
      return signature;
    },
  };
}
