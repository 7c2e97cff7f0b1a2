/**
 * A transaction the state machine refuses. The code is stable and documented in
 * docs/state-machine.md; it appears in receipts, API problems and metrics.
 */
export class TxRejected extends Error {
  readonly code: string;
  constructor(code: string, message?: string) {
    super(message ?? code);
    this.name = 'TxRejected';
    this.code = code;
  }
}
