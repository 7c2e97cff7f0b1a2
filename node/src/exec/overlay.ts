// Copy-on-write views over the state and the secondary index for one block and, nested in it, one
// transaction: a transaction's writes land in its own layer and are merged into the block's layer only
// if its handler succeeds, so a TxRejected discards them (exec/types.ts contract).
import type { IndexAccess, StateAccess } from './types.ts';
import { mapKey } from '../store/map-key.ts';

/** A pending write: value undefined = delete. */
export interface Write {
  key: Uint8Array;
  value: Uint8Array | undefined;
}

/** Reads a key below the overlays; `id` is mapKey(key), computed once by the overlay. */
export type Reader = (key: Uint8Array, id: string) => Promise<Uint8Array | undefined>;

/** Largest key and value a handler may write; a larger one is a handler bug, not a tx rejection. */
export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 64 * 1024;

export class OverlayError extends Error {
  readonly code = 'WRITE_TOO_LARGE';
  constructor(message: string) {
    super(message);
    this.name = 'OverlayError';
  }
}

export class Overlay implements StateAccess, IndexAccess {
  readonly #read: Reader;
  /** The layer below (a child's block layer); reads fall through it by the same map key. */
  readonly #parent: Overlay | undefined;
  readonly #writes = new Map<string, Write>();

  constructor(read: Reader, parent?: Overlay) {
    this.#read = read;
    this.#parent = parent;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    // The key is turned into a map key once for the whole chain of layers (not once per layer).
    const id = mapKey(key);
    let layer: Overlay = this;
    for (;;) {
      const w = layer.#writes.get(id);
      if (w !== undefined) return Promise.resolve(w.value);
      if (layer.#parent === undefined) return layer.#read(key, id);
      layer = layer.#parent;
    }
  }

  put(key: Uint8Array, value: Uint8Array): void {
    if (key.length > MAX_KEY_BYTES || value.length > MAX_VALUE_BYTES) {
      throw new OverlayError(
        `write of ${key.length}-byte key / ${value.length}-byte value exceeds the limits`,
      );
    }
    // Not copied: put takes ownership (exec/types.ts). Every handler writes freshly encoded records, and
    // two copies per write (the larger ones each a native allocation) were a visible share of execution.
    this.#writes.set(mapKey(key), { key, value });
  }

  del(key: Uint8Array): void {
    if (key.length > MAX_KEY_BYTES) throw new OverlayError(`delete of a ${key.length}-byte key`);
    this.#writes.set(mapKey(key), { key, value: undefined });
  }

  /** A child layer whose reads fall through to this one. */
  child(): Overlay {
    return new Overlay(this.#read, this);
  }

  /** Moves a child's writes into this layer (the child succeeded). */
  absorb(child: Overlay): void {
    // forEach: no [key, value] entry array per write (this runs once per transaction).
    child.#writes.forEach((w, k) => {
      this.#writes.set(k, w);
    });
  }

  writes(): Write[] {
    return [...this.#writes.values()];
  }
}
