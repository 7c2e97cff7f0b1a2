// LevelDB write-buffer sizes that differ between validators (ADR 0118).
//
// LevelDB turns its in-memory write buffer into a level-0 table when the buffer fills, and those tables
// trigger its compactions (leveldb/doc/impl.md, "Compactions"). Validators write almost the same bytes
// (the same blocks, state and indexes) at the same rate, so with one buffer size they all flush and
// compact at the same moments. On separate machines that costs nothing; on one machine (the 4-validator
// devnet and benchmark networks, a test bench) the compactions pile onto the same cores at once and
// every validator slows down together: with a quorum of 2f + 1 there is no fast majority left to carry
// on. Giving each validator its own buffer size spreads the flushes out, so at most one or two
// compact at any moment and the others keep committing.

/** LevelDB's default write buffer (4 MiB), the smallest size handed out. */
export const BASE_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
/** Sizes are rounded down to a multiple of this (LevelDB takes any size; round ones are easier to state). */
const STEP = 64 * 1024;

/**
 * The write buffer for a validator: sizes in [4, 8) MiB. Genesis validator i of n gets 4 MiB x (1 + i / n),
 * evenly spread, so no two validators of the set share a size; a node outside the set (index < 0) takes
 * a size from its public key.
 */
export function writeBufferBytesFor(index: number, validators: number, publicKey: Uint8Array): number {
  let fraction: number;
  if (Number.isSafeInteger(index) && index >= 0 && Number.isSafeInteger(validators) && index < validators) {
    fraction = index / validators;
  } else {
    const b = publicKey;
    fraction = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
    fraction /= 2 ** 32;
  }
  return BASE_WRITE_BUFFER_BYTES + Math.floor((fraction * BASE_WRITE_BUFFER_BYTES) / STEP) * STEP;
}
