// Block header, block hash and block encoding (docs/protocol.md §8, ADR 0006).
//
//   BlockHeader = [version=1, chainId, height, view, prevHash(32), txRoot(32), txCount, stateRoot(32),
//                  stateHeight, proposer, timestamp]
//   blockHash   = SHA-256(encodeCanonical(header))
//   Block       = [header, [tx bytes, ...]]        each tx is an encoded signed transaction (byte string)
//
// height = PBFT sequence number (>= 1; height 0 is the genesis state, not a block); view = the view in
// which the block was first proposed; prevHash = blockHash of height-1 (32 zero bytes at height 1);
// txRoot = RFC 6962 root over the encoded transactions in order; stateRoot = state root after executing
// block stateHeight < height (a pipelined primary cannot know the root of the block it proposes);
// proposer = validator index; timestamp = ms since the Unix epoch.
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import { WireError } from './errors.ts';
import { expectArray, expectBytes, expectUint, expectVersion } from './fields.ts';
import { bytesEqual, sha256 } from './hash.ts';
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_HEADER_BYTES, MAX_TX_BYTES } from './limits.ts';
import { merkleRoot } from './merkle.ts';
import { assertChainId } from './signing.ts';

export const BLOCK_VERSION = 1;
export const HASH_BYTES = 32;
export const ZERO_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

export interface BlockHeader {
  version: 1;
  chainId: string;
  height: number;
  view: number;
  prevHash: Uint8Array;
  txRoot: Uint8Array;
  txCount: number;
  stateRoot: Uint8Array;
  stateHeight: number;
  proposer: number;
  timestamp: number;
}

export interface Block {
  header: BlockHeader;
  /** Encoded signed transactions, in block order. */
  txs: Uint8Array[];
}

export interface DecodeBlockOptions {
  /** When given, a header for another chain is rejected with WRONG_CHAIN. */
  chainId?: string;
  /** Default MAX_HEADER_BYTES for a header, MAX_BLOCK_BYTES for a block (never more than those). */
  maxBytes?: number;
  /**
   * Computes the RFC 6962 root the header's txRoot is checked against: by default `merkleRoot` (pure-JS
   * SHA-256, so that browsers and devices can decode blocks); a node passes the same function over its
   * platform's SHA-256 (node/src/crypto/tx-root.ts, ~10x faster), which must give the same root.
   */
  txRoot?: (txs: readonly Uint8Array[]) => Uint8Array;
}

function headerArray(h: BlockHeader): CborValue[] {
  return [
    h.version,
    h.chainId,
    h.height,
    h.view,
    h.prevHash,
    h.txRoot,
    h.txCount,
    h.stateRoot,
    h.stateHeight,
    h.proposer,
    h.timestamp,
  ];
}

function parseHeader(v: CborValue, expectedChain: string | undefined): BlockHeader {
  const a = expectArray(v, 'block header');
  expectVersion(a, 'block header', BLOCK_VERSION);
  expectArray(v, 'block header', 11);
  const chainId = a[1];
  assertChainId(chainId);
  if (expectedChain !== undefined && chainId !== expectedChain) {
    throw new WireError('WRONG_CHAIN', `block for chain ${chainId}, expected ${expectedChain}`);
  }
  const height = expectUint(a[2], 'height', 1);
  const prevHash = expectBytes(a[4], 'prevHash', HASH_BYTES);
  if (height === 1 && !bytesEqual(prevHash, ZERO_HASH)) {
    throw new WireError('INCONSISTENT', 'prevHash of height 1 must be 32 zero bytes');
  }
  const txCount = expectUint(a[6], 'txCount');
  if (txCount > MAX_BLOCK_TXS) throw new WireError('WRONG_TYPE', `txCount ${txCount} > ${MAX_BLOCK_TXS}`);
  const stateHeight = expectUint(a[8], 'stateHeight');
  if (stateHeight >= height) throw new WireError('INCONSISTENT', 'stateHeight must be below height');
  return {
    version: BLOCK_VERSION,
    chainId,
    height,
    view: expectUint(a[3], 'view'),
    prevHash,
    txRoot: expectBytes(a[5], 'txRoot', HASH_BYTES),
    txCount,
    stateRoot: expectBytes(a[7], 'stateRoot', HASH_BYTES),
    stateHeight,
    proposer: expectUint(a[9], 'proposer'),
    timestamp: expectUint(a[10], 'timestamp'),
  };
}

export function encodeBlockHeader(h: BlockHeader): Uint8Array {
  const arr = headerArray(h);
  parseHeader(arr, undefined);
  return encodeCanonical(arr);
}

export function decodeBlockHeader(bytes: Uint8Array, opts?: DecodeBlockOptions): BlockHeader {
  const max = Math.min(opts?.maxBytes ?? MAX_HEADER_BYTES, MAX_HEADER_BYTES);
  return parseHeader(decodeCanonical(bytes, { maxBytes: max }), opts?.chainId);
}

/** SHA-256 of the canonical header encoding: the block's identity (its transactions via txRoot). */
export function blockHash(h: BlockHeader): Uint8Array {
  return sha256(encodeBlockHeader(h));
}

function parseBlock(
  v: CborValue,
  expectedChain: string | undefined,
  root: (txs: readonly Uint8Array[]) => Uint8Array = merkleRoot,
): Block {
  const a = expectArray(v, 'block', 2);
  const header = parseHeader(a[0]!, expectedChain);
  const txList = expectArray(a[1], 'block transactions');
  if (txList.length !== header.txCount) {
    throw new WireError('INCONSISTENT', `txCount ${header.txCount} but ${txList.length} transactions`);
  }
  const txs = txList.map((t, i) => {
    const b = expectBytes(t, `transaction ${i}`);
    if (b.length > MAX_TX_BYTES) throw new WireError('TOO_LARGE', `transaction ${i} is ${b.length} bytes`);
    return b;
  });
  if (!bytesEqual(root(txs), header.txRoot)) {
    throw new WireError('INCONSISTENT', 'txRoot does not match the transactions');
  }
  return { header, txs };
}

/** Encode a block. Checks txCount and txRoot against `txs` (a block that lies about them is rejected). */
export function encodeBlock(b: Block): Uint8Array {
  const arr: CborValue[] = [headerArray(b.header), b.txs];
  parseBlock(arr, undefined);
  const bytes = encodeCanonical(arr);
  if (bytes.length > MAX_BLOCK_BYTES) throw new WireError('TOO_LARGE', `block is ${bytes.length} bytes`);
  return bytes;
}

/**
 * Structural decode of a block: canonical encoding, header fields, txCount and txRoot consistent with
 * the embedded transactions, each transaction within MAX_TX_BYTES. The transactions themselves are not
 * decoded or verified here (decodeTransaction / verifyTransactionSignature).
 */
export function decodeBlock(bytes: Uint8Array, opts?: DecodeBlockOptions): Block {
  const max = Math.min(opts?.maxBytes ?? MAX_BLOCK_BYTES, MAX_BLOCK_BYTES);
  return parseBlock(decodeCanonical(bytes, { maxBytes: max }), opts?.chainId, opts?.txRoot);
}

/** Header for `txs`: fills in txRoot and txCount. A convenience for proposers and tests. */
export function makeBlock(header: Omit<BlockHeader, 'txRoot' | 'txCount'>, txs: Uint8Array[]): Block {
  return { header: { ...header, txRoot: merkleRoot(txs), txCount: txs.length }, txs };
}
