// Why a whole block is refused by the executor (as opposed to one transaction, which gets a rejected
// receipt). A refused block changes nothing: no record is written and the head does not move.
export const BlockRejectedCode = {
  /** The block's height is at or below the applied height: each height is applied exactly once. */
  ALREADY_APPLIED: 'ALREADY_APPLIED',
  /** The block's height is above applied height + 1: blocks are applied strictly in order. */
  HEIGHT_GAP: 'HEIGHT_GAP',
  WRONG_CHAIN: 'WRONG_CHAIN',
  /** header.prevHash is not the hash of the applied head block. */
  PREV_HASH_MISMATCH: 'PREV_HASH_MISMATCH',
  /** header.txRoot / txCount do not match the transactions. */
  TX_ROOT_MISMATCH: 'TX_ROOT_MISMATCH',
  /** header.stateHeight is not below the block's height. */
  BAD_STATE_HEIGHT: 'BAD_STATE_HEIGHT',
  /** header.stateRoot differs from this node's root at stateHeight: our state diverged from the
   *  quorum's (or the proposer lied and a quorum certified it). Either way: stop, do not apply. */
  STATE_ROOT_MISMATCH: 'STATE_ROOT_MISMATCH',
  /** The commit certificate does not certify this header under the validator set. */
  CERTIFICATE_INVALID: 'CERTIFICATE_INVALID',
} as const;
export type BlockRejectedCode = (typeof BlockRejectedCode)[keyof typeof BlockRejectedCode];

export class BlockRejected extends Error {
  readonly code: BlockRejectedCode;
  constructor(code: BlockRejectedCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'BlockRejected';
    this.code = code;
  }
}

/**
 * A handler failed with something other than TxRejected (a bug, or an I/O failure while reading state).
 * The block is NOT applied: recording a receipt for a failure that might not happen on other nodes
 * would fork the state, so halting is the only safe reaction.
 */
export class ExecutionError extends Error {
  readonly code = 'HANDLER_FAILED';
  readonly height: number;
  readonly position: number;
  constructor(height: number, position: number, cause: unknown) {
    super(
      `HANDLER_FAILED: transaction ${position} of block ${height}: ${(cause as Error)?.message ?? cause}`,
      {
        cause,
      },
    );
    this.name = 'ExecutionError';
    this.height = height;
    this.position = position;
  }
}

/**
 * Receipt codes the framework itself assigns (handlers add theirs via TxRejected). Stable: they are
 * stored in receipts and shown to clients.
 */
export const FrameworkRejection = {
  /** The bytes are not a structurally valid transaction envelope. */
  MALFORMED: 'MALFORMED',
  WRONG_CHAIN: 'WRONG_CHAIN',
  /** A transaction with this id already consumed its nonce (earlier block or earlier in this one). */
  DUPLICATE_TX: 'DUPLICATE_TX',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** nonce <= the sender's last consumed nonce. */
  NONCE_TOO_LOW: 'NONCE_TOO_LOW',
  /** nonce > last consumed nonce + 1. */
  NONCE_GAP: 'NONCE_GAP',
  /** No handler is registered for the transaction type. */
  NO_HANDLER: 'NO_HANDLER',
  /** The handler wrote a key over 1 KiB or a value over 64 KiB (exec/overlay.ts); nonce consumed. */
  WRITE_TOO_LARGE: 'WRITE_TOO_LARGE',
} as const;
