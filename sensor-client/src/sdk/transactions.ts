// Building and signing transactions a device or its registrar sends. Browser-safe. Bodies are encoded
// with the state machine's own codec (consensus/src/wire/bodies), never a second copy of it.

import {
  encodeBody,
  MAX_READINGS_PER_TX,
  type ReadingEntry,
  type TxBody,
} from '@vigil/consensus/wire/bodies/index.ts';
import { checkReading, type ReadingKind, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import {
  encodeTransaction,
  type Signer,
  sha256,
  type Transaction,
  TX_VERSION,
  transactionSigningBytes,
  type UnsignedTransaction,
} from '@vigil/consensus/wire';
import { toHex } from '../util/hex.ts';
import { SdkError } from './errors.ts';

/** A reading in device terms: an integer in the kind's wire unit (kinds.ts), at a measurement time. */
export interface DeviceReading {
  kind: ReadingKind | number;
  value: number;
  /** Device clock, ms since the Unix epoch, when the value was measured. */
  measuredAt: number;
}

export interface SignedTx {
  tx: Transaction;
  /** Canonical encoding: what is sent, queued and resent byte for byte. */
  bytes: Uint8Array;
  id: Uint8Array;
  idHex: string;
}

export interface TxContext {
  chainId: string;
  signer: Signer;
  nonce: number;
  /** Sender's clock, ms. */
  timestamp: number;
}

export function signBody(ctx: TxContext, body: TxBody): SignedTx {
  const unsigned: UnsignedTransaction = {
    version: TX_VERSION,
    chainId: ctx.chainId,
    type: body.type,
    sender: ctx.signer.publicKey,
    nonce: ctx.nonce,
    timestamp: ctx.timestamp,
    body: encodeBody(body),
  };
  // The id is by definition SHA-256 of the signing bytes (wire transactionId): encode them once for both.
  const signingBytes = transactionSigningBytes(unsigned);
  const tx: Transaction = { ...unsigned, signature: ctx.signer.sign(signingBytes) };
  const id = sha256(signingBytes);
  return { tx, bytes: encodeTransaction(tx), id, idHex: toHex(id) };
}

/** Checks readings against the clinical definitions (kind, integer, plausible range) and adds units. */
export function toReadingEntries(readings: readonly DeviceReading[]): ReadingEntry[] {
  if (readings.length === 0) throw new SdkError('INVALID_READING', 'a batch needs at least one reading');
  if (readings.length > MAX_READINGS_PER_TX) {
    throw new SdkError('INVALID_READING', `at most ${MAX_READINGS_PER_TX} readings per transaction`);
  }
  // The state machine wants each kind's measurement times strictly increasing in batch order (and after
  // the device's last on chain); one violation rejects the whole transaction, every reading in it.
  const lastOfKind = new Map<number, number>();
  const out = readings.map((r, i) => {
    const spec = readingKindSpec(r.kind);
    if (!spec?.deviceReportable) {
      throw new SdkError('INVALID_READING', `readings[${i}]: kind ${r.kind} is not device-reportable`);
    }
    const problem = checkReading(r.kind, r.value, spec.unit);
    if (problem)
      throw new SdkError('INVALID_READING', `readings[${i}]: ${problem} (${r.value} ${spec.unit})`);
    if (!Number.isSafeInteger(r.measuredAt) || r.measuredAt < 0) {
      throw new SdkError('INVALID_READING', `readings[${i}]: measuredAt must be epoch ms`);
    }
    const prev = lastOfKind.get(r.kind);
    if (prev !== undefined && r.measuredAt <= prev) {
      throw new SdkError(
        'READING_NOT_INCREASING',
        `readings[${i}]: kind ${r.kind} measured at ${r.measuredAt}, not after ${prev} earlier in the batch`,
      );
    }
    lastOfKind.set(r.kind, r.measuredAt);
    return { kind: r.kind, value: r.value, unit: spec.unit, measuredAt: r.measuredAt };
  });
  return out;
}

/** Splits readings into transaction-sized batches, preserving order. */
export function chunkReadings<T>(readings: readonly T[], size = MAX_READINGS_PER_TX): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < readings.length; i += size) out.push(readings.slice(i, i + size));
  return out;
}

/** A signed submitReadings transaction: the device (ctx.signer) reports readings of its bound patient. */
export function buildSubmitReadings(
  ctx: TxContext,
  patient: Uint8Array,
  readings: readonly DeviceReading[],
): SignedTx {
  return signBody(ctx, { type: 50, patient, readings: toReadingEntries(readings) });
}

// Registration helpers: signed by whoever the state machine lets bind a device (the patient, a guardian
// or an enrolled clinician; docs/state-machine.md), NOT by the device.

export function buildBindDevice(
  ctx: TxContext,
  device: Uint8Array,
  patient: Uint8Array,
  validFrom: number,
  validUntil: number,
): SignedTx {
  return signBody(ctx, { type: 30, device, patient, validFrom, validUntil });
}

export function buildRotateDeviceKey(
  ctx: TxContext,
  device: Uint8Array,
  newKey: Uint8Array,
  overlapMs: number,
) {
  return signBody(ctx, { type: 31, device, newKey, overlapMs });
}

export function buildSuspendDevice(ctx: TxContext, device: Uint8Array, suspended: boolean): SignedTx {
  return signBody(ctx, { type: 32, device, suspended });
}

export function buildRevokeDevice(ctx: TxContext, device: Uint8Array): SignedTx {
  return signBody(ctx, { type: 33, device });
}

export function buildRegisterPatient(ctx: TxContext, patient: Uint8Array): SignedTx {
  return signBody(ctx, { type: 20, patient });
}
