// Typed errors of the benchmark harness, with stable string codes (a script can branch on them).
export type BenchErrorCode =
  | 'NETWORK_NOT_READY'
  | 'ENROL_FAILED'
  | 'BAD_RECORD'
  | 'USAGE'
  | 'NO_COMMITS'
  | 'SYNC_TIMEOUT'
  | 'SYNC_GAP'
  | 'RAW_VERIFY';

export class BenchError extends Error {
  readonly code: BenchErrorCode;
  constructor(code: BenchErrorCode, message: string) {
    super(message);
    this.name = 'BenchError';
    this.code = code;
  }
}
