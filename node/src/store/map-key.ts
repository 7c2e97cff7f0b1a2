// Bytes to a Map key for state keys (the execution overlay and the state read cache): one character
// per byte (latin1), built in JavaScript. Not hex through Buffer's native hexSlice: a state key is a
// fresh array on the V8 heap, and handing it to native code first moves its bytes to a new off-heap
// backing store; with the string's length halved as well, a lookup costs about half as much
// (measured 994 -> 457 ns per key built and stored in a Map, 40-byte keys). The strings are never
// shown or stored: hexKey (state-tree/hex-key.ts) is for ids people read.

/** Largest run passed to one String.fromCharCode call (well under any engine's argument limit). */
const CHUNK = 4096;

export function mapKey(b: Uint8Array): string {
  if (b.length <= CHUNK) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i += CHUNK) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return s;
}
