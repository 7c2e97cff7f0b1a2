// What the replica persists, under which keys, and how it reads them back (docs/consensus.md
// "Persistence"). Values are canonical CBOR. A restarted replica must never contradict a message it
// sent before the crash (TOCS 2002 §4.4 and §5.3), so everything a sent message depends on is written
// in the same Ready, before the message leaves.

import { type CborValue, decodeCanonical, encodeCanonical } from '../wire/index.ts';
import { PbftRestoreError } from './errors.ts';
import type { PreparedProof } from './messages.ts';
import type { StableCheckpoint } from './proofs.ts';

export const RecordKey = {
  /** [after, until (0 = not yet known)] while the replica recovers from lost records (ADR 0121). */
  recovery: 'pbft/recovery',
  /** [view, active (0|1), consecutive view changes] */
  view: 'pbft/view',
  /** The VIEW-CHANGE this replica sent for its current view (while the view change is in progress). */
  viewChange: 'pbft/view-change',
  /** The NEW-VIEW this replica sent as primary of its current view (while it is that view's primary). */
  newView: 'pbft/new-view',
  /** [height, blockHash, stateRoot, timestamp, [CHECKPOINT messages]] of the last stable checkpoint. */
  checkpoint: 'pbft/checkpoint',
  /** [height, stateRoot, blockHash, timestamp] of the last block the driver reported executed. */
  executed: 'pbft/executed',
  /** [[start, [publicKey...]]...]: every validator-set epoch after genesis (ADR 0015). */
  epochs: 'pbft/epochs',
  /** The PRE-PREPARE accepted (or sent, by the primary) at a height in the current view. */
  prePrepare: (h: number) => `pbft/pp/${h}`,
  /** [PRE-PREPARE, [PREPAREs]]: the highest-view prepared certificate at a height. */
  prepared: (h: number) => `pbft/prepared/${h}`,
  /** [view, sentPrepare (0|1), sentCommit (0|1)] at a height. */
  votes: (h: number) => `pbft/votes/${h}`,
  /** The commit certificate of a block this replica committed at a height. */
  committed: (h: number) => `pbft/committed/${h}`,
  /** The state root after executing height h (kept one window below the stable checkpoint, so
   *  proposals whose stateHeight lags can still be checked after a restart). */
  root: (h: number) => `pbft/root/${h}`,
} as const;

export type HeightRecordKind = 'pp' | 'prepared' | 'votes' | 'committed' | 'root';

const perHeight = /^pbft\/(pp|prepared|votes|committed|root)\/(\d{1,15})$/;

/** Splits a per-height key into its kind and height, or undefined for a singleton key. */
export function parseHeightKey(key: string): { kind: HeightRecordKind; height: number } | undefined {
  const m = perHeight.exec(key);
  if (m === null) return undefined;
  return { kind: m[1] as HeightRecordKind, height: Number(m[2]) };
}

function corrupt(key: string, why: string): never {
  throw new PbftRestoreError(`record ${key}: ${why}`);
}

function decodeArray(key: string, value: Uint8Array, len: number): CborValue[] {
  let v: CborValue;
  try {
    v = decodeCanonical(value, { maxBytes: Math.max(value.length, 1) });
  } catch (e) {
    corrupt(key, (e as Error).message);
  }
  if (!Array.isArray(v) || v.length !== len) corrupt(key, `expected an array of ${len}`);
  return v;
}

function num(key: string, v: CborValue | undefined): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) corrupt(key, 'expected a uint');
  return v;
}

function buf(key: string, v: CborValue | undefined): Uint8Array {
  if (!(v instanceof Uint8Array)) corrupt(key, 'expected bytes');
  return v;
}

function bufs(key: string, v: CborValue | undefined): Uint8Array[] {
  if (!Array.isArray(v)) corrupt(key, 'expected an array');
  return v.map((x) => buf(key, x));
}

export interface ViewRecord {
  view: number;
  active: boolean;
  backoff: number;
}
export const encodeViewRecord = (r: ViewRecord): Uint8Array =>
  encodeCanonical([r.view, r.active ? 1 : 0, r.backoff]);
export function decodeViewRecord(v: Uint8Array): ViewRecord {
  const a = decodeArray(RecordKey.view, v, 3);
  return {
    view: num(RecordKey.view, a[0]),
    active: num(RecordKey.view, a[1]) === 1,
    backoff: num(RecordKey.view, a[2]),
  };
}

export const encodeCheckpointRecord = (c: StableCheckpoint): Uint8Array =>
  encodeCanonical([c.height, c.blockHash, c.stateRoot, c.timestamp, c.proof]);
export function decodeCheckpointRecord(v: Uint8Array): StableCheckpoint {
  const k = RecordKey.checkpoint;
  const a = decodeArray(k, v, 5);
  return {
    height: num(k, a[0]),
    blockHash: buf(k, a[1]),
    stateRoot: buf(k, a[2]),
    timestamp: num(k, a[3]),
    proof: bufs(k, a[4]),
  };
}

export interface ExecutedRecord {
  height: number;
  stateRoot: Uint8Array;
  blockHash: Uint8Array;
  timestamp: number;
}
export const encodeExecutedRecord = (r: ExecutedRecord): Uint8Array =>
  encodeCanonical([r.height, r.stateRoot, r.blockHash, r.timestamp]);
export function decodeExecutedRecord(v: Uint8Array): ExecutedRecord {
  const k = RecordKey.executed;
  const a = decodeArray(k, v, 4);
  return { height: num(k, a[0]), stateRoot: buf(k, a[1]), blockHash: buf(k, a[2]), timestamp: num(k, a[3]) };
}

export const encodePreparedRecord = (p: PreparedProof): Uint8Array =>
  encodeCanonical([p.prePrepare, p.prepares]);
export function decodePreparedRecord(key: string, v: Uint8Array): PreparedProof {
  const a = decodeArray(key, v, 2);
  return { prePrepare: buf(key, a[0]), prepares: bufs(key, a[1]) };
}

export interface VotesRecord {
  view: number;
  sentPrepare: boolean;
  sentCommit: boolean;
}
export const encodeVotesRecord = (r: VotesRecord): Uint8Array =>
  encodeCanonical([r.view, r.sentPrepare ? 1 : 0, r.sentCommit ? 1 : 0]);
export function decodeVotesRecord(key: string, v: Uint8Array): VotesRecord {
  const a = decodeArray(key, v, 3);
  return { view: num(key, a[0]), sentPrepare: num(key, a[1]) === 1, sentCommit: num(key, a[2]) === 1 };
}

/** Recovery from lost records (ADR 0121): `until` is undefined until a late enough checkpoint is stable. */
export interface RecoveryRecord {
  after: number;
  until: number | undefined;
}
export const encodeRecoveryRecord = (r: RecoveryRecord): Uint8Array =>
  encodeCanonical([r.after, r.until ?? 0]);
export function decodeRecoveryRecord(v: Uint8Array): RecoveryRecord {
  const a = decodeArray(RecordKey.recovery, v, 2);
  const until = num(RecordKey.recovery, a[1]);
  return { after: num(RecordKey.recovery, a[0]), until: until === 0 ? undefined : until };
}
