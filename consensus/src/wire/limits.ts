// Protocol-wide size limits. Every decoder checks its input length against one of these BEFORE parsing,
// so a hostile peer cannot make us allocate or recurse in proportion to anything but these constants.
// They are part of the protocol (docs/protocol.md, "Limits"): changing one is a protocol change.

/** Largest encoded signed transaction, in bytes. */
export const MAX_TX_BYTES = 64 * 1024;
/** Largest encoded block (header + embedded transactions), in bytes. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
/** Most transactions in one block. */
export const MAX_BLOCK_TXS = 10_000;
/** Largest encoded block header, in bytes (a header is fixed-shape; this is generous). */
export const MAX_HEADER_BYTES = 1024;
/** Most votes in a commit certificate (and so the largest validator set a certificate can serve). */
export const MAX_CERT_VOTES = 1024;
/** Largest encoded commit certificate, in bytes. */
export const MAX_CERT_BYTES = 16 + MAX_CERT_VOTES * 80;
/** Default input limit of decodeCanonical when the caller gives none (a PBFT message carrying a block). */
export const DEFAULT_MAX_BYTES = 2 * MAX_BLOCK_BYTES;
/** Deepest nesting of arrays: the outermost array is depth 1. A transaction needs 4. */
export const MAX_DEPTH = 16;
/** Chain identifiers: 1..64 bytes of [A-Za-z0-9._:-]. ASCII keeps the length byte in signingPayload
 *  equal to the character count for every client language. */
export const MAX_CHAIN_ID_BYTES = 64;
export const CHAIN_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
