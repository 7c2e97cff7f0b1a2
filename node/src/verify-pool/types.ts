import type { Verifier } from '@vigil/consensus/wire';

/** One ed25519 check: does `signature` sign `message` under `publicKey`? */
export interface SignatureCheck {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

/** Verifies many signatures at once (the worker pool, or inline for tests and tiny batches). */
export interface BatchVerifier {
  /** One boolean per check, in order. Never rejects because a signature is bad. */
  verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]>;
}

/** A BatchVerifier on the calling thread: for tests, and as the reference the pool must agree with. */
export function inlineBatchVerifier(verifier: Verifier): BatchVerifier {
  return {
    async verifyBatch(checks) {
      return checks.map((c) => verifier.verify(c.signature, c.message, c.publicKey));
    },
  };
}
