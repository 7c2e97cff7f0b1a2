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
//
// A certified block carries rejected transactions too. On a chain whose state commits to every block's
// receipts (ADR 0123) the device also checks the OUTCOME (verifyCommitOutcome): that a certified state
// holds the block's receipts root and that its own transaction's receipt there says accepted.

import {
  type OutcomeProof,
  outcomeProofFromJson,
  ProofError,
  verifyTransactionOutcome,
} from '@vigil/consensus/proof';
import {
  type BlockHeader,
  decodeBlockHeader,
  referenceVerifier,
  type Verifier,
  WireError,
} from '@vigil/consensus/wire';
import { fromHex, toHex } from '../util/hex.ts';
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

/** What a device takes from its chain's genesis.json: spread it into DeviceConfig. */
export interface GenesisTrust {
  /** Epoch 0's set (trustedSetFromGenesis). */
  validatorSets: TrustedValidatorSet[];
  /** Whether the chain's state commits to receipts (`consensus.receiptsRoots`, ADR 0123). */
  requireOutcomeProof: boolean;
}

/**
 * The trust anchor a genesis file gives a device: its validator set, and whether the chain proves
 * outcomes. The flag is part of the chain's rules (it is in the genesis hash), so a genesis that sets
 * it means every node of the chain can serve outcome proofs, and a device may demand them.
 */
export function trustFromGenesis(genesis: unknown): GenesisTrust {
  const set = trustedSetFromGenesis(genesis);
  const consensus = (genesis as { consensus?: unknown }).consensus;
  const flag = (consensus as { receiptsRoots?: unknown } | null | undefined)?.receiptsRoots;
  if (flag !== undefined && typeof flag !== 'boolean') {
    throw new SdkError('USAGE', 'genesis consensus.receiptsRoots is not true or false');
  }
  return { validatorSets: [set], requireOutcomeProof: flag === true };
}

/** The sets whose height range holds `height` (more than one only where the operator made them overlap). */
export function trustedSetsAt(sets: readonly TrustedValidatorSet[], height: number): TrustedValidatorSet[] {
  return sets.filter(
    (s) => height >= (s.fromHeight ?? 1) && height <= (s.untilHeight ?? Number.POSITIVE_INFINITY),
  );
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
  const sets = trustedSetsAt(opts.sets, height);
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

/**
 * What a verified proof response says about a transaction's outcome:
 * - `accepted` / `rejected`: the receipt, proven by a certified state (ADR 0123);
 * - `absent`: the inclusion verified, but the node served no outcome (no certified header cites a state
 *   that holds the block's receipts root yet, or it withholds it).
 */
export type VerifiedOutcome =
  | { receipt: 'accepted'; inclusion: VerifiedInclusion; stateHeight: number }
  | { receipt: 'rejected'; code: string; inclusion: VerifiedInclusion; stateHeight: number }
  | { receipt: 'absent'; inclusion: VerifiedInclusion };

/**
 * verifyCommitProof, then the outcome: the receipt's path to the block's receipts root and a state
 * proof of that root under a second certified header, each header checked against the trusted set
 * covering ITS height (they may lie in different epochs). The receipt must name `expectedTxId`.
 * Throws SdkError PROOF_INVALID (problemCode: RECEIPT_PROOF_INVALID, STATE_PROOF_INVALID,
 * CERT_*, MALFORMED_PROOF, NO_TRUSTED_SET, RECEIPT_TX_MISMATCH...).
 */
export function verifyCommitOutcome(
  p: ProofResponse,
  opts: {
    chainId: string;
    sets: readonly TrustedValidatorSet[];
    txBytes: Uint8Array;
    expectedTxId: string;
    verifier?: Verifier;
  },
): VerifiedOutcome {
  const inclusion = verifyCommitProof(p, opts);
  if (p.outcome === undefined) return { receipt: 'absent', inclusion };
  const bad = (why: string, code: string): never => {
    throw new SdkError('PROOF_INVALID', why, { problemCode: code });
  };
  let proof: OutcomeProof;
  let stateHeader: BlockHeader;
  try {
    // Present: `outcome` was checked above.
    proof = outcomeProofFromJson(p)!;
    stateHeader = proof.stateHeader;
  } catch (e) {
    if (e instanceof WireError) return bad(e.message, e.code);
    if (e instanceof ProofError) return bad(e.message, e.code);
    if (e instanceof SdkError) return bad(e.message, 'MALFORMED_PROOF');
    throw e;
  }
  const blockSets = trustedSetsAt(opts.sets, inclusion.height);
  const stateSets = trustedSetsAt(opts.sets, stateHeader.height);
  if (stateSets.length === 0) {
    return bad(`no trusted validator set for height ${stateHeader.height}`, 'NO_TRUSTED_SET');
  }
  let first: ProofError | undefined;
  // As for inclusion: where ranges overlap, any covering set's quorum will do, for each header apart.
  for (const a of blockSets) {
    for (const b of stateSets) {
      let out: ReturnType<typeof verifyTransactionOutcome>;
      try {
        out = verifyTransactionOutcome(
          { bytes: opts.txBytes },
          proof,
          (h) => (h === inclusion.height ? a.validators : b.validators),
          opts.verifier ?? referenceVerifier,
        );
      } catch (e) {
        if (!(e instanceof ProofError)) throw e;
        first ??= e;
        continue;
      }
      const { receipt, stateHeight } = out;
      // Position binds the receipt to these bytes; the id is a second check, and a certified receipt
      // naming another transaction (or none) at this position is a chain we must not act on.
      if (receipt.txId === null || toHex(receipt.txId) !== opts.expectedTxId) {
        return bad('the receipt names another transaction', 'RECEIPT_TX_MISMATCH');
      }
      return receipt.status === 'accepted'
        ? { receipt: 'accepted', inclusion, stateHeight }
        : { receipt: 'rejected', code: receipt.code, inclusion, stateHeight };
    }
  }
  return bad(first!.message, first!.wireCode ?? first!.code);
}
