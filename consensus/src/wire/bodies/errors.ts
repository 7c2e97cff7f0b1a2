// A transaction body that does not match its type's schema. Bodies come from devices and clients, so
// every field is checked for type, size and range before the state machine sees it (ADR 0040).

export const BodyErrorCode = {
  /** The body array has the wrong number of fields. */
  BODY_ARITY: 'BODY_ARITY',
  /** A field has the wrong CBOR type, size, length or range. */
  BODY_FIELD: 'BODY_FIELD',
  /** An enumerated field (purpose, governance action, grantee kind...) has an unknown value. */
  BODY_ENUM: 'BODY_ENUM',
  /** No body schema exists for this transaction type. */
  BODY_UNKNOWN_TYPE: 'BODY_UNKNOWN_TYPE',
} as const;
export type BodyErrorCode = (typeof BodyErrorCode)[keyof typeof BodyErrorCode];

export class BodyError extends Error {
  readonly code: BodyErrorCode;
  /** Dotted path of the offending field, e.g. `readings[3].unit`. */
  readonly field: string;
  constructor(code: BodyErrorCode, field: string, message: string) {
    super(`${code} at ${field}: ${message}`);
    this.name = 'BodyError';
    this.code = code;
    this.field = field;
  }
}
