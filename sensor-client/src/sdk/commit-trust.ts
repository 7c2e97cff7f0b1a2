// The device's trust anchor for "committed": which validator sets may certify the blocks that carry its
// transactions. Browser-safe. A node's word that a transaction committed is not enough to forget the
// readings in it (a Byzantine node, one of the f the protocol tolerates, can say anything); a commit
// certificate of a quorum of a set the hospital provisioned is (Castro-Liskov §4.2: 2f+1 signatures of
// one set contain f+1 correct validators, who never certify two blocks at one height).
//
// Validator sets change by governance (ADR 0041) at epoch boundaries (ADR 0015), and a certificate's
// vote indices name members of its block's epoch only. So a set is trusted for a range of heights, and
// a block outside every configured range is refused (NO_TRUSTED_SET) rather than checked against the
// wrong set: the device never learns a new set from the nodes it is checking; operators provision it.

import { decodeBlockHeader, WireError } from '@vigil/consensus/wire';
import { fromHex } from '../util/hex.ts';
import type { ProofResponse } from './api-client.ts';
import { SdkError } from './errors.ts';
import { type VerifiedInclusion, verifyInclusionProof } from './proof.ts';

export interface TrustedValidatorSet {
  /** Validator public keys (32 bytes each) in validator-index order, as the epoch's certificates name them. */
  validators: readonly Uint8Array[];
  /** First block height this set certifies (its epoch's first height; genesis: 1, the default). */
  fromHeight?: number;
  /** Last block height this set certifies (its epoch's last height); open-ended when absent. */
  untilHeight?: number;
}

/** Checks a configuration; throws USAGE. Returns copies, so later mutation of the caller's arrays is moot. */
export function checkTrustedSets(sets: readonly TrustedValidatorSet[]): TrustedValidatorSet[] {
  if (sets.length === 0) throw new SdkError('USAGE', 'validatorSets: at least one set, or leave it out');
  return sets.map((s, i) => {
    if (s.validators.length === 0) throw new SdkError('USAGE', `validatorSets[${i}]: no validators`);
    for (const k of s.validators) {
      if (!(k instanceof Uint8Array) || k.length !== 32) {
        throw new SdkError('USAGE', `validatorSets[${i}]: a public key is not 32 bytes`);
      }
    }
    const from = s.fromHeight ?? 1;
    const until = s.untilHeight ?? Number.POSITIVE_INFINITY;
    if (!Number.isSafeInteger(from) || from < 1 || !(until >= from)) {
      throw new SdkError('USAGE', `validatorSets[${i}]: bad height range ${from}..${until}`);
    }
    return {
      validators: s.validators.map((k) => k.slice()),
      fromHeight: from,
      ...(s.untilHeight === undefined ? {} : { untilHeight: s.untilHeight }),
    };
  });
}

/**
 * The epoch-0 set from a chain's `genesis.json` (docs/operations.md: `validators` in index order, entry
 * i is vote i of a certificate). Valid until the first validator change takes effect; then provision
 * the new set too (with its `fromHeight`) and bound this one with `untilHeight`.
 */
export function trustedSetFromGenesis(genesis: unknown): TrustedValidatorSet {
  const vs = (genesis as { validators?: unknown } | null)?.validators;
  if (!Array.isArray(vs) || vs.length === 0) throw new SdkError('USAGE', 'genesis has no validators');
  const validators = vs.map((v, i) => {
    const hex = (v as { publicKey?: unknown } | null)?.publicKey;
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/i.test(hex)) {
      throw new SdkError('USAGE', `genesis validators[${i}].publicKey is not 64 hex digits`);
    }
    return fromHex(hex.toLowerCase());
  });
  return { validators, fromHeight: 1 };
}

/**
 * Verifies that `p` proves `txBytes` committed, certified by a quorum of a trusted set whose height range
 * holds the block. Throws SdkError PROOF_INVALID (problemCode: the reason, NO_TRUSTED_SET when no set
 * covers the block's height) as verifyInclusionProof does.
 */
export function verifyCommitProof(
  p: ProofResponse,
  opts: { chainId: string; sets: readonly TrustedValidatorSet[]; txBytes: Uint8Array; expectedTxId: string },
): VerifiedInclusion {
  let height: number;
  try {
    height = decodeBlockHeader(fromHex(p.header)).height;
  } catch (e) {
    if (e instanceof WireError) throw new SdkError('PROOF_INVALID', e.message, { problemCode: e.code });
    if (e instanceof SdkError) throw new SdkError('PROOF_INVALID', e.message);
    throw e;
  }
  const sets = opts.sets.filter(
    (s) => height >= (s.fromHeight ?? 1) && height <= (s.untilHeight ?? Number.POSITIVE_INFINITY),
  );
  if (sets.length === 0) {
    throw new SdkError('PROOF_INVALID', `no trusted validator set for height ${height}`, {
      problemCode: 'NO_TRUSTED_SET',
    });
  }
  let first: unknown;
  // Overlapping ranges are the operator's choice (e.g. during a hand-over): any one set's quorum will do.
  for (const s of sets) {
    try {
      return verifyInclusionProof(p, {
        chainId: opts.chainId,
        validators: s.validators,
        expectedTxId: opts.expectedTxId,
        txBytes: opts.txBytes,
      });
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}
