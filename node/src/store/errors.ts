// Why the chain store refuses to open or to write. Every code stops the node before it changes
// anything on disk; the operator's runbook (docs/storage.md, "Startup checks") says what each means.
export const StoreErrorCode = {
  /** The database was written by an incompatible version of the node. */
  SCHEMA_MISMATCH: 'SCHEMA_MISMATCH',
  /** The database belongs to another chain (chain id differs from the configuration). */
  WRONG_CHAIN: 'WRONG_CHAIN',
  /** Same chain id, different genesis: another network, or a reset one. */
  GENESIS_MISMATCH: 'GENESIS_MISMATCH',
  /** initChain was called on a database that already holds a chain. */
  ALREADY_INITIALISED: 'ALREADY_INITIALISED',
  /** The operation needs an initialised chain. */
  NOT_INITIALISED: 'NOT_INITIALISED',
  /**
   * The directory holds LevelDB data files but no CURRENT file: LevelDB cannot open it, and creating a
   * database there would delete the data. Nothing is changed; restore the directory or move it away.
   */
  CORRUPT_DATABASE: 'CORRUPT_DATABASE',
  /** A metadata record is absent or undecodable. */
  CORRUPT_METADATA: 'CORRUPT_METADATA',
  /** A block, certificate, root or index record is absent below the applied height. */
  MISSING_RECORD: 'MISSING_RECORD',
  /** A record exists beyond the applied height (cannot happen with atomic batches). */
  UNEXPECTED_RECORD: 'UNEXPECTED_RECORD',
  /** A stored record does not decode or does not hash to what metadata says. */
  CORRUPT_RECORD: 'CORRUPT_RECORD',
  /** The state tree's root node is missing or does not hash to the recorded state root. */
  CORRUPT_STATE: 'CORRUPT_STATE',
  /**
   * A proof was asked of the state after a height applied inside a certified range (ADR 0115), or of a
   * state whose held tree was given up (ADR 0116): that state is not kept here. Not damage: ask for a
   * newer height.
   */
  STATE_NOT_RETAINED: 'STATE_NOT_RETAINED',
  /** The store is closed. */
  CLOSED: 'CLOSED',
  /** A store option (e.g. VIGIL_TREE_INTERVAL) is out of range. */
  INVALID_OPTION: 'INVALID_OPTION',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'StoreError';
    this.code = code;
  }
}
