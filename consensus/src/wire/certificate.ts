// PBFT commit votes and commit certificates (docs/protocol.md §9).
//
// A COMMIT for (view, height, blockHash) by validator i is an Ed25519 signature over
//   commitVoteSignBytes = signingPayload('vigil/pbft/v1', chainId,
//                                         encodeCanonical([3, view, height, blockHash, i]))
// (3 = the COMMIT message type of the PBFT protocol). The PBFT replica signs its COMMIT messages over
// exactly these bytes, so any 2f+1 of them form a certificate that anyone holding the validator set can
// check without the original messages: a committed block is provably committed (Castro & Liskov, OSDI
// 1999 §4.2: "committed-local" after 2f+1 matching commits).
//
//   CommitCertificate = [version=1, height, view, blockHash(32), [[validator, signature(64)], ...]]
// Votes are sorted by strictly increasing validator index: one encoding per vote set, no duplicates.
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import { blockHash as computeBlockHash, type BlockHeader, HASH_BYTES } from './block.ts';
import type { Verifier } from './ed25519.ts';
import { WireError } from './errors.ts';
import { expectArray, expectBytes, expectUint, expectVersion } from './fields.ts';
import { bytesEqual } from './hash.ts';
import { MAX_CERT_BYTES, MAX_CERT_VOTES } from './limits.ts';
import { SigningDomain, signingPayload } from './signing.ts';
import { SIGNATURE_BYTES } from './transaction.ts';

export const CERT_VERSION = 1;
/** The PBFT COMMIT message type code, fixed here because it is inside the signed bytes. */
export const COMMIT_MESSAGE_TYPE = 3;

export interface CommitVote {
  view: number;
  height: number;
  blockHash: Uint8Array;
  validator: number;
}

export interface CommitCertificate {
  height: number;
  view: number;
  blockHash: Uint8Array;
  votes: { validator: number; signature: Uint8Array }[];
}

/** What a PBFT COMMIT's signature covers. */
export function commitVoteSignBytes(chainId: string, vote: CommitVote): Uint8Array {
  const view = expectUint(vote.view, 'view');
  const height = expectUint(vote.height, 'height', 1);
  const hash = expectBytes(vote.blockHash, 'blockHash', HASH_BYTES);
  const validator = expectUint(vote.validator, 'validator');
  return signingPayload(
    SigningDomain.consensus,
    chainId,
    encodeCanonical([COMMIT_MESSAGE_TYPE, view, height, hash, validator]),
  );
}

/** PBFT fault bound and quorum for n validators: f = floor((n-1)/3), q = floor((n+f)/2)+1 (= 2f+1 when n = 3f+1). */
export function faultTolerance(n: number): number {
  return Math.floor((n - 1) / 3);
}

export function quorumSize(n: number): number {
  return Math.floor((n + faultTolerance(n)) / 2) + 1;
}

function parseCertificate(v: CborValue, requireSorted: boolean): CommitCertificate {
  const a = expectArray(v, 'commit certificate');
  expectVersion(a, 'commit certificate', CERT_VERSION);
  expectArray(v, 'commit certificate', 5);
  const height = expectUint(a[1], 'height', 1);
  const view = expectUint(a[2], 'view');
  const blockHash = expectBytes(a[3], 'blockHash', HASH_BYTES);
  const list = expectArray(a[4], 'votes');
  if (list.length > MAX_CERT_VOTES) throw new WireError('WRONG_TYPE', `more than ${MAX_CERT_VOTES} votes`);
  let last = -1;
  const votes = list.map((entry) => {
    const pair = expectArray(entry, 'vote', 2);
    const validator = expectUint(pair[0], 'vote validator');
    if (requireSorted && validator === last)
      throw new WireError('CERT_DUPLICATE_VOTE', `two votes from validator ${validator}`);
    if (requireSorted && validator < last)
      throw new WireError('INCONSISTENT', 'votes must be sorted by validator index');
    last = validator;
    return { validator, signature: expectBytes(pair[1], 'vote signature', SIGNATURE_BYTES) };
  });
  return { height, view, blockHash, votes };
}

function certificateArray(c: CommitCertificate): CborValue[] {
  return [CERT_VERSION, c.height, c.view, c.blockHash, c.votes.map((x) => [x.validator, x.signature])];
}

/** Encode a certificate; votes are sorted by validator index first (duplicates: CERT_DUPLICATE_VOTE). */
export function encodeCommitCertificate(c: CommitCertificate): Uint8Array {
  const sorted = { ...c, votes: [...c.votes].sort((x, y) => x.validator - y.validator) };
  const arr = certificateArray(sorted);
  parseCertificate(arr, true);
  return encodeCanonical(arr);
}

export function decodeCommitCertificate(bytes: Uint8Array, opts?: { maxBytes?: number }): CommitCertificate {
  const max = Math.min(opts?.maxBytes ?? MAX_CERT_BYTES, MAX_CERT_BYTES);
  return parseCertificate(decodeCanonical(bytes, { maxBytes: max }), true);
}

/**
 * Throws unless `cert` proves that the block with `header` is committed on `chainId` by the validator
 * set `validators` (public keys; a vote's validator field indexes this list). Checks, in order:
 * WRONG_CHAIN (header.chainId), CERT_MISMATCH (height, blockHash, or view earlier than the header's
 * view), CERT_UNKNOWN_VALIDATOR, CERT_DUPLICATE_VOTE, CERT_NO_QUORUM (fewer than quorumSize(n) votes),
 * CERT_BAD_SIGNATURE (any vote whose signature does not verify: a certificate carries no junk).
 */
export function verifyCommitCertificate(
  chainId: string,
  cert: CommitCertificate,
  header: BlockHeader,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): void {
  if (header.chainId !== chainId) throw new WireError('WRONG_CHAIN', `header for chain ${header.chainId}`);
  parseCertificate(certificateArray(cert), false);
  if (cert.height !== header.height) {
    throw new WireError(
      'CERT_MISMATCH',
      `certificate height ${cert.height} != header height ${header.height}`,
    );
  }
  if (!bytesEqual(cert.blockHash, computeBlockHash(header))) {
    throw new WireError('CERT_MISMATCH', 'certificate blockHash is not the hash of the header');
  }
  if (cert.view < header.view) {
    // A block is first proposed in header.view and can only be committed in that view or a later one.
    throw new WireError('CERT_MISMATCH', `certificate view ${cert.view} < header view ${header.view}`);
  }
  const n = validators.length;
  const seen = new Set<number>();
  for (const vote of cert.votes) {
    if (vote.validator >= n)
      throw new WireError('CERT_UNKNOWN_VALIDATOR', `validator ${vote.validator} of ${n}`);
    if (seen.has(vote.validator)) throw new WireError('CERT_DUPLICATE_VOTE', `validator ${vote.validator}`);
    seen.add(vote.validator);
  }
  const q = quorumSize(n);
  if (n === 0 || seen.size < q) throw new WireError('CERT_NO_QUORUM', `${seen.size} votes, quorum is ${q}`);
  for (const vote of cert.votes) {
    const message = commitVoteSignBytes(chainId, {
      view: cert.view,
      height: cert.height,
      blockHash: cert.blockHash,
      validator: vote.validator,
    });
    if (!verifier.verify(vote.signature, message, validators[vote.validator]!)) {
      throw new WireError('CERT_BAD_SIGNATURE', `vote of validator ${vote.validator}`);
    }
  }
}
