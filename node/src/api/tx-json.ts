// The JSON form of a transaction (docs/api.md, "JSON transactions"), for clients that cannot produce
// canonical CBOR themselves. It is converted to the canonical envelope; the signature must verify over
// the signing bytes of THAT canonical form (wire transactionSigningBytes), so a JSON client signs
// exactly what a CBOR client would, and there is one transaction id for both.
//
//   { "version": 1, "chainId": "vigil-devnet", "type": 20 | "registerPatient",
//     "sender": "<64 hex>", "nonce": 1, "timestamp": 1700000000000,
//     "body": { "patient": "<64 hex>" }, "signature": "<128 hex>" }
//
// `body` is the typed body of wire/bodies (TxBody) without its `type`; every byte-string field
// (keys, ids) is lower-case hex. Unknown fields are refused.
import {
  type CborValue,
  encodeTransaction,
  fromHex,
  isTxTypeCode,
  type Transaction,
  TxType,
  toHex,
  transactionSigningBytes,
  type UnsignedTransaction,
} from '@vigil/consensus/wire';
import { BodyError, decodeBody, encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';

export class TxJsonError extends Error {
  readonly code: 'MALFORMED_JSON_TX' | 'BODY_ARITY' | 'BODY_FIELD' | 'BODY_ENUM' | 'BODY_UNKNOWN_TYPE';
  constructor(code: TxJsonError['code'], message: string) {
    super(message);
    this.name = 'TxJsonError';
    this.code = code;
  }
}

/** Body fields that are byte strings on the wire (hex in JSON). */
const BYTE_FIELDS = new Set([
  'patient',
  'publicKey',
  'proposalId',
  'guardian',
  'device',
  'newKey',
  'grantId',
  'accessId',
  'reader',
  'key',
]);
const HEX = /^(?:[0-9a-f]{2})*$/;
const ENVELOPE_FIELDS = ['version', 'chainId', 'type', 'sender', 'nonce', 'timestamp', 'body', 'signature'];
const MAX_DEPTH = 6;

function bad(message: string): never {
  throw new TxJsonError('MALFORMED_JSON_TX', message);
}

function hexBytes(v: unknown, path: string, len?: number): Uint8Array {
  if (typeof v !== 'string' || !HEX.test(v) || (len !== undefined && v.length !== 2 * len)) {
    bad(`${path}: ${len ? `${2 * len} ` : ''}lower-case hex characters expected`);
  }
  return fromHex(v);
}

function fromJsonValue(v: unknown, name: string, path: string, depth: number): unknown {
  if (depth > MAX_DEPTH) bad(`${path}: nested too deeply`);
  if (BYTE_FIELDS.has(name)) return hexBytes(v, path);
  if (name === 'admins') {
    if (!Array.isArray(v)) bad(`${path}: array of hex keys expected`);
    return v.map((x, i) => hexBytes(x, `${path}[${i}]`));
  }
  if (Array.isArray(v)) return v.map((x, i) => fromJsonValue(x, '', `${path}[${i}]`, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype')
        bad(`${path}: field ${k} not allowed`);
      out[k] = fromJsonValue(x, k, `${path}.${k}`, depth + 1);
    }
    return out;
  }
  return v;
}

/** JSON text with object keys sorted (comparison of JSON values). */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

function toJsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return v;
}

function txType(v: unknown): number {
  if (typeof v === 'number' && isTxTypeCode(v)) return v;
  if (typeof v === 'string' && Object.hasOwn(TxType, v)) return TxType[v as keyof typeof TxType];
  return bad('type: a transaction type code or name expected');
}

function nat(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    bad(`${path}: non-negative integer expected`);
  return v;
}

/** Typed body (without `type`) from its JSON object; validated by the wire body codec. */
export function bodyFromJson(type: number, json: unknown): CborValue[] {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('body: object expected');
  const typed = { ...(fromJsonValue(json, '', 'body', 0) as object), type } as TxBody;
  let encoded: CborValue[];
  try {
    encoded = encodeBody(typed);
  } catch {
    return bad('body: fields do not match the body of this transaction type');
  }
  if (encoded === undefined) throw new TxJsonError('BODY_UNKNOWN_TYPE', `no body schema for type ${type}`);
  let decoded: TxBody;
  try {
    decoded = decodeBody(type, encoded);
  } catch (e) {
    if (e instanceof BodyError) throw new TxJsonError(e.code, e.message);
    throw e;
  }
  // Exactness: the JSON body must be precisely the JSON rendering of the body it decodes to, so an
  // extra, misspelt or nested unknown field is refused instead of silently dropped.
  const { type: _, ...fields } = decoded;
  if (stableJson(toJsonValue(fields)) !== stableJson(json)) {
    const extra = Object.keys(json).find((k) => !Object.hasOwn(fields, k));
    bad(
      extra ? `body: unknown field ${extra}` : 'body: fields do not match the body of this transaction type',
    );
  }
  return encoded;
}

/** The unsigned transaction a JSON form describes (a `signature` field, if any, is ignored). */
export function unsignedFromJson(json: unknown): UnsignedTransaction {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('a JSON object expected');
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!ENVELOPE_FIELDS.includes(k)) bad(`unknown field ${k}`);
  if (o.version !== undefined && o.version !== 1) bad('version: 1 expected');
  if (typeof o.chainId !== 'string') bad('chainId: string expected');
  const type = txType(o.type);
  const unsigned: UnsignedTransaction = {
    version: 1,
    chainId: o.chainId,
    type,
    sender: hexBytes(o.sender, 'sender', 32),
    nonce: nat(o.nonce, 'nonce'),
    timestamp: nat(o.timestamp, 'timestamp'),
    body: bodyFromJson(type, o.body),
  };
  try {
    transactionSigningBytes(unsigned); // envelope checks (chain id pattern, ranges)
  } catch (e) {
    bad((e as Error).message);
  }
  return unsigned;
}

/** The transaction a JSON form describes. Throws TxJsonError. */
export function transactionFromJson(json: unknown): Transaction {
  const unsigned = unsignedFromJson(json);
  return { ...unsigned, signature: hexBytes((json as Record<string, unknown>).signature, 'signature', 64) };
}

/** Canonical envelope bytes of a JSON-form transaction. */
export function encodeJsonTransaction(json: unknown): Uint8Array {
  const tx = transactionFromJson(json);
  try {
    return encodeTransaction(tx);
  } catch (e) {
    return bad((e as Error).message);
  }
}

/** The JSON form of a transaction (the inverse of transactionFromJson for well-formed bodies). */
/**
 * The envelope of a transaction without its body and signature: what the unsigned status route shows.
 * Bodies name patients and carry their data (docs/api.md, "Patient data on the chain routes").
 */
export function transactionEnvelopeJson(tx: Transaction): Record<string, unknown> {
  return {
    version: tx.version,
    chainId: tx.chainId,
    type: tx.type,
    sender: toHex(tx.sender),
    nonce: tx.nonce,
    timestamp: tx.timestamp,
  };
}

export function transactionToJson(tx: Transaction): Record<string, unknown> {
  let body: unknown;
  try {
    const { type: _, ...typed } = decodeBody(tx.type, tx.body);
    body = toJsonValue(typed);
  } catch {
    body = toJsonValue(tx.body); // an undecodable body (it was rejected): shown positionally
  }
  return { ...transactionEnvelopeJson(tx), body, signature: toHex(tx.signature) };
}
