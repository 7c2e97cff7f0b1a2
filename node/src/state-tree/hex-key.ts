// Bytes to a Map key. Hashes, state keys and tx ids are looked up in Maps by their hex string many
// thousands of times per block; Buffer.from(...).toString('hex') allocates a Buffer object per call
// first. Buffer.prototype.hexSlice (what toString('hex') calls) runs on any Uint8Array directly and is
// about twice as fast; the fallback keeps this correct on a runtime without it.
type HexSlice = (this: Uint8Array, start: number, end: number) => string;

const hexSlice = (Buffer.prototype as unknown as { hexSlice?: HexSlice }).hexSlice;

export const hexKey: (b: Uint8Array) => string =
  typeof hexSlice === 'function'
    ? (b) => hexSlice.call(b, 0, b.length)
    : (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
