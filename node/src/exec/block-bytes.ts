// The stored form of a block (wire encodeBlock: canonical CBOR [header, [tx bytes...]]) written
// directly. wire's encodeBlock re-validates the block (including a pure-JS RFC 6962 root over every
// transaction) and runs the generic encoder over a thousand byte strings; the executor has already
// checked the header against the transactions (txCount, txRoot with node:crypto) before it stores the
// block, so only the framing is left. block-bytes.test.ts checks byte equality with encodeBlock.
import {
  type Block,
  encodeBlockHeader,
  MAX_BLOCK_BYTES,
  MAX_TX_BYTES,
  WireError,
} from '@vigil/consensus/wire';
import { headLength, writeHead } from '../store/cbor-direct.ts';
import { txRoot } from '../crypto/tx-root.ts';

/**
 * encodeBlock(block) for a block whose txCount and txRoot the caller has checked against its
 * transactions. The header still goes through encodeBlockHeader (which validates its fields), and
 * the same size limits as encodeBlock are enforced.
 */
export function encodeCheckedBlock(block: Block): Uint8Array {
  const header = encodeBlockHeader(block.header);
  const txs = block.txs;
  let size = 1 + header.length + headLength(txs.length);
  for (let i = 0; i < txs.length; i++) {
    const n = txs[i]!.length;
    if (n > MAX_TX_BYTES) throw new WireError('TOO_LARGE', `transaction ${i} is ${n} bytes`);
    size += headLength(n) + n;
  }
  if (size > MAX_BLOCK_BYTES) throw new WireError('TOO_LARGE', `block is ${size} bytes`);
  const out = new Uint8Array(size);
  out[0] = 0x82; // array(2): header, transactions
  out.set(header, 1);
  let o = writeHead(out, 1 + header.length, 4, txs.length);
  for (const tx of txs) {
    o = writeHead(out, o, 2, tx.length);
    out.set(tx, o);
    o += tx.length;
  }
  return out;
}

/**
 * Blocks decoded from bytes that are already their stored form: block sync receives each block as the
 * canonical bytes a peer stored, and wire decodeBlock accepts only the canonical encoding (ADR 0003),
 * so those bytes ARE encodeCheckedBlock(block). Blocks are never mutated after decoding.
 */
const encodings = new WeakMap<Block, Uint8Array>();

/** Records that `block` was decoded by wire decodeBlock from `bytes`. */
export function rememberBlockEncoding(block: Block, bytes: Uint8Array): void {
  encodings.set(block, bytes);
}

/** What the executor stores for a checked block: the bytes it was decoded from, else encoded now. */
export function storedBlockBytes(block: Block): Uint8Array {
  return encodings.get(block) ?? encodeCheckedBlock(block);
}

const txRootChecked = new WeakSet<Block>();

/**
 * Records that decoding checked `block`'s header txRoot against its transactions (wire decodeBlock with
 * the `txRoot` option, as block sync decodes what peers send): the executor then takes the header's
 * root instead of hashing every transaction again (two SHA-256 per transaction, ~10 % of a catch-up
 * range applied from effects records).
 */
export function rememberTxRootChecked(block: Block): void {
  txRootChecked.add(block);
}

/** The root of the block's transactions: the header's when decoding checked it, else computed. */
export function checkedTxRoot(block: Block): Uint8Array {
  return txRootChecked.has(block) ? block.header.txRoot : txRoot(block.txs);
}
