// Transaction signatures this validator verified outside its mempool, so the same transaction is not
// verified again when it reaches the mempool or the executor a moment later.
//
// Why: a backup checks every transaction of a PRE-PREPARE before it prepares the block (ADR 0031). One
// already admitted to its mempool costs a lookup, but under load many are not there yet: the client
// sent it to another validator, and the PRE-PREPARE overtook the gossip copy (separate streams), or the
// copy is still waiting for its admission batch. Those were verified in the proposal check, then again
// when the block executed, and a third time when the gossip copy was admitted: in the issue 9 profile
// (n = 4, 250 tx/s) the proposal check alone was a third of a validator's main-thread Ed25519 work.
//
// Safety: the key is the transaction id, which covers the whole unsigned payload including the sender's
// public key and the chain id, and a hit also needs the exact signature bytes that verified (the id
// does not cover the signature). Ed25519 verification is a pure function of (key, message, signature),
// so a hit is the verifier's own answer. Only accepted signatures are ever recorded.
import type { VerifiedTxCache } from '../exec/executor.ts';
import { LRUCache } from 'lru-cache';
import { hexKey } from '../state-tree/hex-key.ts';

/** About five seconds of transactions at 3,000 tx/s; ~200 bytes an entry (~3 MiB). */
export const DEFAULT_VERIFIED_TRANSACTIONS = 16_384;

export class VerifiedTransactions implements VerifiedTxCache {
  readonly #accepted: LRUCache<string, Uint8Array>;
  #hits = 0;

  constructor(capacity = DEFAULT_VERIFIED_TRANSACTIONS) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be >= 1');
    this.#accepted = new LRUCache({ max: capacity });
  }

  /** Lookups answered "verified" (metrics and tests). */
  get hits(): number {
    return this.#hits;
  }

  get size(): number {
    return this.#accepted.size;
  }

  /** Records that `signature` verified for the transaction `txId` (call only after it did). */
  remember(txId: Uint8Array, signature: Uint8Array): void {
    this.#accepted.set(hexKey(txId), Uint8Array.from(signature));
  }

  isVerified(txId: Uint8Array, signature: Uint8Array): boolean {
    const seen = this.#accepted.get(hexKey(txId));
    if (seen === undefined || seen.length !== signature.length || Buffer.compare(seen, signature) !== 0)
      return false;
    this.#hits++;
    return true;
  }
}

/** A cache that answers yes when any of `caches` does (the mempool, then the proposal checks). */
export function eitherVerified(...caches: readonly VerifiedTxCache[]): VerifiedTxCache {
  return {
    isVerified: (txId, signature) => caches.some((c) => c.isVerified(txId, signature)),
  };
}
