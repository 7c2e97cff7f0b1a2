// Small byte arrays carved out of shared 64 KiB slabs. V8 gives a Uint8Array of more than 64 bytes its
// own off-heap backing store; allocating (and later collecting) one per tree node, record value or
// batch key cost more than filling it (state-tree/node-codec.ts, bench -- replay profiles,
// 2026-12-05). A slab lives until the last array carved from it is unreferenced, so a Slab is only for
// bytes that die soon, typically with the LevelDB batch they are written in: one long-lived array
// would keep its whole slab alive.

const SLAB_BYTES = 64 * 1024;

export class Slab {
  #slab = new Uint8Array(0);
  #used = 0;

  /** `size` zeroed bytes (a fresh array for sizes over a sixteenth of a slab). */
  alloc(size: number): Uint8Array {
    if (size > SLAB_BYTES / 16) return new Uint8Array(size);
    if (this.#used + size > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
    }
    // A view on the slab's buffer: subarray() looks up a species constructor on every call.
    const out = new Uint8Array(this.#slab.buffer, this.#used, size);
    this.#used += size;
    return out;
  }
}
