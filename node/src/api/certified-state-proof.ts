// A state proof against the newest certified header whose cited state this node still has: what
// /v1/proofs serves for any key, and what a transaction's proof uses to show its block's receipts root
// (ADR 0123). Both must pick the header the same way, so it lives here once.
import type { StateProof } from '@vigil/consensus/proof';
import type { Block, CommitCertificate } from '@vigil/consensus/wire';
import type { Validator } from '../validator/validator.ts';
import { ApiError } from './problem.ts';

/**
 * How far back the search looks for a block whose cited state this node materialised: two certified
 * ranges of the executor's default 64 blocks (ADR 0115), so a node just caught up still answers.
 */
export const PROOF_LOOKBACK_BLOCKS = 128;

export interface CertifiedStateProof {
  /** The height of the block whose header the proof verifies against. */
  height: number;
  block: Block;
  certificate: CommitCertificate;
  /** The state proven: after block `stateHeight`, committed to as of `asOf` (ADR 0117). */
  stateHeight: number;
  asOf: number;
  root: Uint8Array;
  value: Uint8Array | undefined;
  proof: StateProof;
}

/**
 * Proves `key` against the newest block that cites a state this node materialised: after a catch-up
 * in certified ranges the newest blocks may cite heights inside a range, which have no state of their
 * own (ADR 0115), and a held tree may have been given up (ADR 0116). ApiError 404 NO_CERTIFIED_STATE
 * before the first block, 503 STATE_NOT_RETAINED when none of the last PROOF_LOOKBACK_BLOCKS does.
 */
export async function proveAgainstNewestHeader(
  validator: Validator,
  key: Uint8Array,
): Promise<CertifiedStateProof> {
  const top = validator.store.requireHead().height;
  if (top === 0) throw new ApiError(404, 'NO_CERTIFIED_STATE', 'No committed block yet to verify against');
  for (let height = top; height >= Math.max(1, top - PROOF_LOOKBACK_BLOCKS); height--) {
    // One read of the block and its certificate, checked (block() would read the certificate too).
    const stored = await validator.store.blocks.checkedBlock(height);
    const certificate = stored?.certificate;
    if (stored === undefined || certificate === undefined)
      throw new ApiError(503, 'UNAVAILABLE', `Block ${height} not readable`);
    const block = stored.block;
    if (!(await validator.store.hasStateAt(block.header.stateHeight))) continue;
    const p = await validator.store.proveState(key, block.header.stateHeight);
    return {
      height,
      block,
      certificate,
      stateHeight: p.height,
      asOf: p.asOf,
      root: p.root,
      value: p.value,
      proof: p.proof,
    };
  }
  throw new ApiError(
    503,
    'STATE_NOT_RETAINED',
    `None of the last ${PROOF_LOOKBACK_BLOCKS} blocks cites a state this node materialised: it is catching up; retry after the next block`,
  );
}
