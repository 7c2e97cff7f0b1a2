// Validator-set epochs (docs/consensus.md "Epochs", ADR 0015). The membership that certifies a height is
// the one of the epoch containing it. An epoch begins right after a checkpoint height A (multiple of K):
// heights 1.. belong to epoch 0 (the genesis set); a change decided by executing block h (governance,
// ADR 0041) starts a new epoch at A+1 with A = floor(h/K)*K + 2K. Everything here is pure arithmetic
// and codecs; the replica owns the state.

import { type CborValue, decodeCanonical, encodeCanonical } from '../wire/index.ts';
import { hex } from './bytes.ts';
import { PbftConfigError, PbftRestoreError } from './errors.ts';

/** One epoch: its first height and its members, as ordered indices into the roster. */
export interface Epoch {
  /** First height certified by this membership (1 for genesis; A+1 after a change at checkpoint A). */
  start: number;
  /** Roster ids in the epoch's order: a member's index here is its replica index within the epoch. */
  members: readonly number[];
}

/**
 * The highest height whose epoch a replica that executed every block up to `executed` can know for
 * sure. A change decided at h starts at floor(h/K)*K + 2K + 1, so any change that could start at or
 * below x was decided at a height <= (floor((x-1)/K) - 1)*K - 1. Solving for x gives
 * (floor((executed+1)/K) + 2)*K. A correct replica never votes (or proposes) above it: that is what
 * stops a replica that has not executed the deciding block from certifying a height under the old set
 * (ADR 0015, "the lagging replica").
 */
export function epochKnownThrough(executed: number, checkpointInterval: number): number {
  return (Math.floor((executed + 1) / checkpointInterval) + 2) * checkpointInterval;
}

/**
 * The roster: every validator key ever named, genesis first, then each new key in order of its first
 * appearance in a change. Every correct replica applies the same changes in the same order (they come
 * from executed blocks), so roster ids agree everywhere. Drivers address peers by roster id.
 */
export class Roster {
  readonly keys: Uint8Array[] = [];
  readonly #index = new Map<string, number>();

  constructor(genesis: readonly Uint8Array[]) {
    for (const k of genesis) this.add(k);
  }

  /** The roster id of `key`, appending it when new. */
  add(key: Uint8Array): number {
    const h = hex(key);
    const known = this.#index.get(h);
    if (known !== undefined) return known;
    const id = this.keys.length;
    this.keys.push(key);
    this.#index.set(h, id);
    return id;
  }

  idOf(key: Uint8Array): number | undefined {
    return this.#index.get(hex(key));
  }

  get size(): number {
    return this.keys.length;
  }
}

/** The index of the epoch containing height h (h >= 1; height 0, genesis, belongs to epoch 0). */
export function epochIndexAt(epochs: readonly Epoch[], h: number): number {
  for (let i = epochs.length - 1; i > 0; i--) if (h >= epochs[i]!.start) return i;
  return 0;
}

/** Checks a change the driver hands in; throws PbftConfigError (a driver bug, not peer input). */
export function checkNewEpoch(
  epochs: readonly Epoch[],
  start: number,
  keys: readonly Uint8Array[],
  checkpointInterval: number,
): void {
  if (!Number.isSafeInteger(start) || start < 2 || (start - 1) % checkpointInterval !== 0) {
    throw new PbftConfigError(`epoch start ${start} is not a checkpoint height + 1`);
  }
  const last = epochs[epochs.length - 1]!;
  if (start <= last.start) throw new PbftConfigError(`epoch start ${start} is not after ${last.start}`);
  if (keys.length < 1) throw new PbftConfigError('an epoch needs at least one validator');
  const seen = new Set<string>();
  for (const k of keys) {
    if (!(k instanceof Uint8Array) || k.length !== 32)
      throw new PbftConfigError('validator key is not 32 bytes');
    const h = hex(k);
    if (seen.has(h)) throw new PbftConfigError('a validator is listed twice');
    seen.add(h);
  }
}

/**
 * The epoch history record: [[roster key...], [[start, [publicKey...]]...]]: the roster beyond genesis
 * (its order is the order keys were first named, which a replaced change may have left out of every
 * epoch) and every epoch after genesis.
 */
export function encodeEpochsRecord(
  epochs: readonly Epoch[],
  roster: Roster,
  genesisSize: number,
): Uint8Array {
  return encodeCanonical([
    roster.keys.slice(genesisSize),
    epochs.slice(1).map((e) => [e.start, e.members.map((m) => roster.keys[m]!)]),
  ]);
}

const isKey = (k: unknown): k is Uint8Array => k instanceof Uint8Array && k.length === 32;

export function decodeEpochsRecord(
  key: string,
  v: Uint8Array,
): { roster: Uint8Array[]; epochs: { start: number; keys: Uint8Array[] }[] } {
  let d: CborValue;
  try {
    d = decodeCanonical(v, { maxBytes: Math.max(v.length, 1) });
  } catch (e) {
    throw new PbftRestoreError(`record ${key}: ${(e as Error).message}`);
  }
  if (
    !Array.isArray(d) ||
    d.length !== 2 ||
    !Array.isArray(d[0]) ||
    !Array.isArray(d[1]) ||
    !d[0].every(isKey)
  )
    throw new PbftRestoreError(`record ${key}: expected [[key...], [[start, [key...]]...]]`);
  const epochs = d[1].map((e) => {
    if (
      !Array.isArray(e) ||
      e.length !== 2 ||
      typeof e[0] !== 'number' ||
      !Number.isSafeInteger(e[0]) ||
      !Array.isArray(e[1]) ||
      !e[1].every(isKey)
    ) {
      throw new PbftRestoreError(`record ${key}: expected [start, [key...]]`);
    }
    return { start: e[0], keys: e[1] as Uint8Array[] };
  });
  return { roster: d[0] as Uint8Array[], epochs };
}
