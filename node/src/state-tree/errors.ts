export const StateTreeErrorCode = {
  /** A node referenced by a root is not in the node store (pruned, or a damaged database). */
  MISSING_NODE: 'MISSING_NODE',
  /** A stored node does not decode, or does not hash to the hash it is stored under. */
  CORRUPT_NODE: 'CORRUPT_NODE',
} as const;
export type StateTreeErrorCode = (typeof StateTreeErrorCode)[keyof typeof StateTreeErrorCode];

export class StateTreeError extends Error {
  readonly code: StateTreeErrorCode;
  constructor(code: StateTreeErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'StateTreeError';
    this.code = code;
  }
}
