// Typed errors of the PBFT core. Codes are stable strings: the simulator, the node's metrics and the
// tests match on them.

export const DropReason = {
  badSignature: 'BAD_SIGNATURE',
  notMember: 'NOT_MEMBER',
  staleView: 'STALE_VIEW',
  futureView: 'FUTURE_VIEW_OVERFLOW',
  outOfWindow: 'OUT_OF_WINDOW',
  malformed: 'MALFORMED',
  equivocation: 'EQUIVOCATION',
  duplicate: 'DUPLICATE',
  wrongPrimary: 'WRONG_PRIMARY',
  badBlock: 'BAD_BLOCK',
  badChain: 'BAD_CHAIN',
  badStateRoot: 'BAD_STATE_ROOT',
  invalidTransactions: 'INVALID_TRANSACTIONS',
  duplicateTransaction: 'DUPLICATE_TRANSACTION',
  heldOverflow: 'HELD_OVERFLOW',
  badViewChange: 'BAD_VIEW_CHANGE',
  badNewView: 'BAD_NEW_VIEW',
  badCheckpoint: 'BAD_CHECKPOINT',
  badCertificate: 'BAD_CERTIFICATE',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** A consensus message that does not decode under the strict schema or the size limits. */
export class PbftDecodeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'PbftDecodeError';
    this.code = code;
  }
}

/** A message that decodes but fails a protocol check; `code` is a DropReason. */
export class PbftRejectError extends Error {
  readonly code: DropReason;
  constructor(code: DropReason, message: string) {
    super(message);
    this.name = 'PbftRejectError';
    this.code = code;
  }
}

/** A persisted record that cannot be read back during `Replica.restore`. */
export class PbftRestoreError extends Error {
  readonly code = 'CORRUPT_RECORD';
  constructor(message: string) {
    super(message);
    this.name = 'PbftRestoreError';
  }
}

/** A configuration that cannot run PBFT (e.g. windowSize not a multiple of checkpointInterval). */
export class PbftConfigError extends Error {
  readonly code = 'BAD_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'PbftConfigError';
  }
}
