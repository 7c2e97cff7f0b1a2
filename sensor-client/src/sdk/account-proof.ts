// An account's nonce, proven rather than taken on a node's word (ADR 0131). Browser-safe. A node that
// says "nonce too low" or serves a wrong `/v1/accounts` nonce makes a device re-sign its queued readings
// under other nonces: a liar can stall it that way (readings never accepted, or a nonce gap no node
// fills). The account record is a state entry (0x00 || "nonce/" || key, docs/storage.md), so a state
// proof against a header certified by a provisioned set shows its value as of that header's state.
//
// What such a proof shows is a LOWER BOUND on the nonce now: a header cites an earlier state
// (pipelining, ADR 0010; every k blocks, ADR 0117) and nonces only grow. So it can prove "nonce n is
// used" (proven >= n) and refute "nonce n is not reached yet" (proven >= n - 1 refutes a gap before n),
// but a proven value below n refutes no "too low": the nonce may have moved since. The device
// (device.ts) draws exactly those conclusions and waits, bounded, for the rest.

import {
  accountNonceKey,
  decodeAccountNonce,
  decodeStateProof,
  ProofError,
  verifyStateProof,
} from '@vigil/consensus/proof';
import {
  type BlockHeader,
  type CommitCertificate,
  decodeBlockHeader,
  decodeCommitCertificate,
  referenceVerifier,
  type Verifier,
  WireError,
} from '@vigil/consensus/wire';
import type { StateProof } from '@vigil/consensus/proof';
import { fromHex, toHex } from '../util/hex.ts';
import type { StateProofResponse } from './api-client.ts';
import { type TrustedValidatorSet, trustedSetsAt } from './commit-trust.ts';
import { SdkError } from './errors.ts';

export interface ProvenAccountNonce {
  /** The account's last consumed nonce in the proven state (0: it never sent a transaction). */
  nonce: number;
  /** The certified block whose header the proof verified against. */
  height: number;
  /**
   * The state that header cites (with a state-root interval k > 1 the proof reads the state as of the
   * last multiple of k at or below it, ADR 0117). Either way a state of the past: `nonce` is a lower
   * bound of the account's nonce now.
   */
  stateHeight: number;
}

/** The hex state key of `publicKey`'s nonce: what the device asks `/v1/proofs/{key}` for. */
export function accountNonceKeyHex(publicKey: Uint8Array): string {
  return toHex(accountNonceKey(publicKey));
}

/**
 * Verifies a `/v1/proofs/{key}` answer for `publicKey`'s nonce: the key is the account's, the header is
 * of this chain and certified by a quorum of a trusted set whose range holds its height, and the proof
 * shows the served value (or the key's absence, nonce 0) under the header's state root. The node's own
 * `validators` are never used. Throws SdkError PROOF_INVALID with `problemCode` the reason: WRONG_KEY,
 * WRONG_CHAIN, NO_TRUSTED_SET, MALFORMED_PROOF (a field that does not decode, a value that is not a
 * canonical unsigned integer), a WireError code (a header or certificate that does not decode),
 * CERT_* (the certificate), STATE_PROOF_INVALID (the path does not lead to the header's root).
 */
export function verifyAccountNonce(
  p: StateProofResponse,
  opts: {
    chainId: string;
    sets: readonly TrustedValidatorSet[];
    publicKey: Uint8Array;
    verifier?: Verifier;
  },
): ProvenAccountNonce {
  const bad = (why: string, code: string): never => {
    throw new SdkError('PROOF_INVALID', why, { problemCode: code });
  };
  const key = accountNonceKey(opts.publicKey);
  if (typeof p.key !== 'string' || p.key.toLowerCase() !== toHex(key)) {
    return bad('the proof is of another state key than the account nonce', 'WRONG_KEY');
  }
  let header: BlockHeader;
  let cert: CommitCertificate;
  let proof: StateProof;
  let value: Uint8Array | undefined;
  let nonce: number;
  try {
    header = decodeBlockHeader(fromHex(p.header));
    cert = decodeCommitCertificate(fromHex(p.certificate));
    proof = decodeStateProof(fromHex(p.proof));
    value = p.value === null ? undefined : fromHex(p.value);
    nonce = decodeAccountNonce(value);
  } catch (e) {
    if (e instanceof WireError) return bad(e.message, e.code);
    if (e instanceof ProofError) return bad(e.message, e.code);
    // fromHex: a field that is not hex (a caller passing an answer the client did not shape-check).
    if (e instanceof SdkError) return bad(e.message, 'MALFORMED_PROOF');
    throw e;
  }
  if (header.chainId !== opts.chainId) bad(`header is for chain ${header.chainId}`, 'WRONG_CHAIN');
  const sets = trustedSetsAt(opts.sets, header.height);
  if (sets.length === 0) bad(`no trusted validator set for height ${header.height}`, 'NO_TRUSTED_SET');
  let first: ProofError | undefined;
  // As for commits: where the operator's ranges overlap, any covering set's quorum will do.
  for (const s of sets) {
    try {
      verifyStateProof(proof, key, value, header, cert, s.validators, opts.verifier ?? referenceVerifier);
      return { nonce, height: header.height, stateHeight: header.stateHeight };
    } catch (e) {
      if (!(e instanceof ProofError)) throw e;
      first ??= e;
    }
  }
  return bad(first!.message, first!.wireCode ?? first!.code);
}
