// The compact PRE-PREPARE and the txfetch protocol's messages (ADR 0129, docs/protocol.md §13): a
// transport encoding of the PBFT core's PRE-PREPARE that names each transaction of the block by its
// RFC 6962 leaf hash instead of carrying it, for a peer that received the transactions by gossip
// already (the idea of Bitcoin's BIP 152 compact blocks). Pure functions, no I/O; the stateful side
// (caches, fetches) is compact-relay.ts.
//
// The core signs and hashes exactly the full message; nothing here changes what it signs. The sender
// derives the compact form from the full bytes, the receiver rebuilds the full bytes, byte for byte,
// and the core checks them as if they had arrived whole.
//
//   full PRE-PREPARE  = CBOR [1, view, height, blockHash(32), replica, signature(64), bstr(block)]
//   block             = CBOR [header, [bstr(tx_1), ..., bstr(tx_n)]]
//   compact           = CBOR [view, height, blockHash(32), replica, signature(64), bstr(header),
//                             [id_1, ..., id_n]]
//                       (on /vigil/consensus/1.1.0 each message is preceded by a kind byte: 0 for a
//                        PBFT message, 1 for a compact PRE-PREPARE; outbound-channel.ts, network.ts)
//   id_i              = SHA-256(0x00 || tx_i)       (RFC 6962 leaf hash: txRoot is a tree over them)
//
// Why the leaf hash and not the transaction id the mempool uses (SHA-256 of the signing bytes): that
// id does not cover the signature, so two byte-different copies of a transaction share it and a
// rebuild could differ from what the primary signed; computing it needs a transaction decode; and the
// header's txRoot is the Merkle tree over exactly these leaf hashes, so a receiver checks the id list
// against the signed header before it looks anything up (ADR 0129, "Alternatives").
import { hash } from 'node:crypto';
import {
  type CborValue,
  decodeBlockHeader,
  decodeCanonical,
  encodeCanonical,
  MAX_BLOCK_TXS,
  MAX_HEADER_BYTES,
  MAX_TX_BYTES,
} from '@vigil/consensus/wire';
import { CompactError, P2PErrorCode } from './errors.ts';

/** docs/consensus.md "Messages": the PBFT core's PRE-PREPARE type and field count. */
const PRE_PREPARE_TYPE = 1;
const PRE_PREPARE_FIELDS = 7;
const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;

export interface CompactLimits {
  /** Most transaction ids in one compact PRE-PREPARE (and positions in one txfetch request). */
  maxTxs: number;
}

export const DEFAULT_COMPACT_LIMITS: CompactLimits = { maxTxs: MAX_BLOCK_TXS };

/** A decoded compact PRE-PREPARE whose header and ids are checked against its signed block hash. */
export interface CompactPrePrepare {
  view: number;
  height: number;
  blockHash: Uint8Array;
  replica: number;
  signature: Uint8Array;
  /** The block header's canonical encoding: SHA-256 of it is blockHash. */
  header: Uint8Array;
  /** Leaf hashes of the block's transactions in block order: their Merkle root is the header's txRoot. */
  ids: Uint8Array[];
}

/** What the sender derives from a full PRE-PREPARE. */
export interface CompactForm {
  /** The compact message: canonical CBOR (its kind byte is the framing's). */
  bytes: Uint8Array;
  blockHash: Uint8Array;
  /** The block's transactions (views into the full message), for answering txfetch, and their ids. */
  txs: Uint8Array[];
  ids: Uint8Array[];
  /** The full message. */
  message: Uint8Array;
}

// ---- leaf hashes and the Merkle root over them (RFC 6962 §2.1, node:crypto) ------------------------
//
// One-shot crypto.hash over a reused scratch buffer, digests as latin1 strings (32 one-byte characters):
// no Hash object and no off-heap Buffer per hash, as node/src/state-tree/hasher.ts found for the tree
// (a createHash per transaction made the compact form cost ~6 µs per transaction on each side). The
// strings are also the cache keys: a Map keyed by them needs no further conversion.

const LEAF = 0x00;
const NODE = 0x01;
/** 0x00 || tx for the largest transaction; 0x01 || left || right for a tree node. */
const scratch = new Uint8Array(1 + MAX_TX_BYTES);

/** The 32 bytes of a latin1 digest string. */
function digestBytes(latin1: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = latin1.charCodeAt(i);
  return out;
}

/** RFC 6962 leaf hash of a transaction as a latin1 string: the key of the gossip seen-sets and caches. */
export function leafKey(tx: Uint8Array): string {
  if (tx.length > MAX_TX_BYTES) {
    const input = new Uint8Array(1 + tx.length);
    input[0] = LEAF;
    input.set(tx, 1);
    return hash('sha256', input, 'binary') as string;
  }
  scratch[0] = LEAF;
  scratch.set(tx, 1);
  return hash('sha256', scratch.subarray(0, 1 + tx.length), 'binary') as string;
}

/** RFC 6962 leaf hash of a transaction: its id in compact PRE-PREPAREs. */
export function leafId(tx: Uint8Array): Uint8Array {
  return digestBytes(leafKey(tx));
}

/** The key of an id (or a block hash) in the caches: its bytes as a latin1 string. */
export function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch[0] = NODE;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return digestBytes(hash('sha256', scratch.subarray(0, 65), 'binary') as string);
}

function mth(hashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return hashes[lo]!;
  let k = 1;
  while (k * 2 < n) k *= 2; // largest power of two < n
  return nodeHash(mth(hashes, lo, lo + k), mth(hashes, lo + k, hi));
}

/** RFC 6962 Merkle Tree Hash of a list given by its leaf hashes (n >= 1). */
export function rootOfLeafHashes(ids: readonly Uint8Array[]): Uint8Array {
  return mth(ids, 0, ids.length);
}

function sha256(b: Uint8Array): Uint8Array {
  return digestBytes(hash('sha256', b, 'binary') as string);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

// ---- CBOR heads -------------------------------------------------------------------------------------

/** Bytes of the shortest CBOR head for argument `n` (RFC 8949 §4.2.1). */
function headBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (n < 0x10000) {
    out[at] = m | 25;
    view.setUint16(at + 1, n);
    return at + 3;
  }
  if (n < 0x1_0000_0000) {
    out[at] = m | 26;
    view.setUint32(at + 1, n);
    return at + 5;
  }
  out[at] = m | 27;
  view.setBigUint64(at + 1, BigInt(n));
  return at + 9;
}

interface Head {
  major: number;
  arg: number;
  /** Offset of the first byte after the head. */
  next: number;
}

/** Reads one shortest-form head, or undefined (truncated, indefinite, non-minimal or above 2^53-1). */
function readHead(b: Uint8Array, at: number): Head | undefined {
  if (at >= b.length) return undefined;
  const ib = b[at]!;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  if (ai < 24) return { major, arg: ai, next: at + 1 };
  const len = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (len === 0 || at + 1 + len > b.length) return undefined;
  let arg = 0;
  for (let i = 0; i < len; i++) arg = arg * 256 + b[at + 1 + i]!;
  if (!Number.isSafeInteger(arg) || headBytes(arg) !== 1 + len) return undefined;
  return { major, arg, next: at + 1 + len };
}

/** Offset after the item at `at` (a header's flat fields: integers, strings, simple values). */
function skipItem(b: Uint8Array, at: number, depth = 0): number | undefined {
  const h = readHead(b, at);
  if (h === undefined || depth > 4) return undefined;
  switch (h.major) {
    case 0:
    case 1:
    case 7:
      return h.next;
    case 2:
    case 3:
      return h.next + h.arg <= b.length ? h.next + h.arg : undefined;
    case 4: {
      let p: number | undefined = h.next;
      for (let i = 0; i < h.arg && p !== undefined; i++) p = skipItem(b, p, depth + 1);
      return p;
    }
    default:
      return undefined;
  }
}

// ---- sender: full -> compact -------------------------------------------------------------------------

/**
 * The compact form of an encoded PRE-PREPARE, or undefined when `message` is not one (any other PBFT
 * message), carries no transaction (nothing to save), or is not laid out exactly as the core encodes
 * it (then it goes out whole). The input is this node's own core's output, but it is parsed without
 * trusting that, and the result is checked to rebuild to the same bytes before it is used.
 */
export function compactPrePrepare(message: Uint8Array): CompactForm | undefined {
  const b = message;
  // Fast rejection of everything but a PRE-PREPARE: an array of 7 whose first element is 1.
  if (b.length < 2 || b[0] !== (0x80 | PRE_PREPARE_FIELDS) || b[1] !== PRE_PREPARE_TYPE) return undefined;
  const uint = (at: number) => {
    const h = readHead(b, at);
    return h !== undefined && h.major === 0 ? h : undefined;
  };
  const bstr = (at: number, len?: number) => {
    const h = readHead(b, at);
    if (h === undefined || h.major !== 2 || (len !== undefined && h.arg !== len)) return undefined;
    if (h.next + h.arg > b.length) return undefined;
    return h;
  };
  const view = uint(2);
  const height = view && uint(view.next);
  const hash = height && bstr(height.next, HASH_BYTES);
  const replica = hash && uint(hash.next + HASH_BYTES);
  const sig = replica && bstr(replica.next, SIGNATURE_BYTES);
  const block = sig && bstr(sig.next + SIGNATURE_BYTES);
  if (!view || !height || !hash || !replica || !sig || !block) return undefined;
  if (block.next + block.arg !== b.length) return undefined;
  // block = [header, [tx...]]
  const outer = readHead(b, block.next);
  if (outer === undefined || outer.major !== 4 || outer.arg !== 2) return undefined;
  const headerEnd = skipItem(b, outer.next);
  if (headerEnd === undefined) return undefined;
  const list = readHead(b, headerEnd);
  if (list === undefined || list.major !== 4 || list.arg === 0) return undefined;
  const txs: Uint8Array[] = new Array(list.arg);
  let at = list.next;
  for (let i = 0; i < list.arg; i++) {
    const t = bstr(at);
    if (t === undefined) return undefined;
    txs[i] = b.subarray(t.next, t.next + t.arg);
    at = t.next + t.arg;
  }
  if (at !== b.length) return undefined;
  const c: CompactPrePrepare = {
    view: view.arg,
    height: height.arg,
    blockHash: b.subarray(hash.next, hash.next + HASH_BYTES),
    replica: replica.arg,
    signature: b.subarray(sig.next, sig.next + SIGNATURE_BYTES),
    header: b.subarray(outer.next, headerEnd),
    ids: txs.map(leafId),
  };
  // The rebuild must give back exactly these bytes (it does for every canonical encoding, which is
  // all the core writes); if it ever did not, the peer would get a message the core cannot verify.
  if (!equal(rebuildPrePrepare(c, txs), b)) return undefined;
  const bytes = encodeCanonical([
    c.view,
    c.height,
    c.blockHash,
    c.replica,
    c.signature,
    c.header,
    c.ids,
  ] satisfies CborValue[]);
  return { bytes, blockHash: c.blockHash, txs, ids: c.ids, message };
}

// ---- receiver: compact -> checked fields -> full -----------------------------------------------------

function malformed(why: string): CompactError {
  return new CompactError(P2PErrorCode.compactMalformed, why);
}

/** Largest compact message for `maxTxs` ids: heads, fields, header and ids. */
export function maxCompactBytes(l: CompactLimits): number {
  return 64 + HASH_BYTES + SIGNATURE_BYTES + MAX_HEADER_BYTES + 9 + l.maxTxs * (2 + HASH_BYTES);
}

function uintField(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(`${what}: not a uint`);
  return v;
}

function bytesField(v: CborValue | undefined, what: string, len?: number, max?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw malformed(`${what}: not a byte string`);
  if (len !== undefined && v.length !== len) throw malformed(`${what}: expected ${len} bytes`);
  if (max !== undefined && v.length > max) throw malformed(`${what}: more than ${max} bytes`);
  return v;
}

/**
 * Strict decode of a compact PRE-PREPARE (without its kind byte) from a peer: canonical CBOR, exactly the
 * seven fields, sizes within `limits`; the header decodes and hashes to blockHash; the ids are as many
 * as the header's txCount and their Merkle root is its txRoot. So every id names the transaction the
 * signed header commits to at its position, and whatever is found under it rebuilds the signed block.
 * The signature is the core's to check, on the rebuilt message.
 */
export function decodeCompactPrePrepare(
  bytes: Uint8Array,
  limits: CompactLimits = DEFAULT_COMPACT_LIMITS,
): CompactPrePrepare {
  if (bytes.length > maxCompactBytes(limits)) throw malformed(`${bytes.length} bytes`);
  let v: CborValue;
  try {
    v = decodeCanonical(bytes, { maxBytes: maxCompactBytes(limits), maxDepth: 2 });
  } catch (e) {
    throw malformed(`not canonical CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(v)) throw malformed('not an array');
  // Unknown (extra) or missing fields are refused: a newer format gets a new protocol id.
  if (v.length !== 7) throw malformed(`expected 7 fields, got ${v.length}`);
  const idsValue = v[6];
  if (!Array.isArray(idsValue)) throw malformed('ids: not an array');
  if (idsValue.length > limits.maxTxs)
    throw new CompactError(P2PErrorCode.compactTooManyIds, `${idsValue.length} ids > ${limits.maxTxs}`);
  if (idsValue.length === 0) throw malformed('no ids (a block without transactions is sent whole)');
  const c: CompactPrePrepare = {
    view: uintField(v[0], 'view'),
    height: uintField(v[1], 'height'),
    blockHash: bytesField(v[2], 'blockHash', HASH_BYTES),
    replica: uintField(v[3], 'replica'),
    signature: bytesField(v[4], 'signature', SIGNATURE_BYTES),
    header: bytesField(v[5], 'header', undefined, MAX_HEADER_BYTES),
    ids: idsValue.map((x, i) => bytesField(x, `ids[${i}]`, HASH_BYTES)),
  };
  let header: ReturnType<typeof decodeBlockHeader>;
  try {
    header = decodeBlockHeader(c.header);
  } catch (e) {
    throw malformed(`header does not decode: ${(e as Error).message}`);
  }
  if (!equal(sha256(c.header), c.blockHash))
    throw new CompactError(P2PErrorCode.compactHeaderMismatch, 'header does not hash to blockHash');
  if (header.txCount !== c.ids.length)
    throw new CompactError(
      P2PErrorCode.compactIdsMismatch,
      `${c.ids.length} ids for txCount ${header.txCount}`,
    );
  if (!equal(rootOfLeafHashes(c.ids), header.txRoot))
    throw new CompactError(
      P2PErrorCode.compactIdsMismatch,
      "the ids' Merkle root is not the header's txRoot",
    );
  return c;
}

/**
 * The full PRE-PREPARE bytes for a compact one and its transactions (txs[i] must have leaf hash
 * c.ids[i]; callers check). Canonical CBOR written head by head: the same bytes the core encoded.
 */
export function rebuildPrePrepare(c: CompactPrePrepare, txs: readonly Uint8Array[]): Uint8Array {
  let listBytes = headBytes(txs.length);
  for (const tx of txs) listBytes += headBytes(tx.length) + tx.length;
  const blockBytes = 1 + c.header.length + listBytes;
  const total =
    1 + // array(7)
    1 + // type 1
    headBytes(c.view) +
    headBytes(c.height) +
    headBytes(HASH_BYTES) +
    HASH_BYTES +
    headBytes(c.replica) +
    headBytes(SIGNATURE_BYTES) +
    SIGNATURE_BYTES +
    headBytes(blockBytes) +
    blockBytes;
  const out = new Uint8Array(total);
  let at = writeHead(out, 0, 4, PRE_PREPARE_FIELDS);
  at = writeHead(out, at, 0, PRE_PREPARE_TYPE);
  at = writeHead(out, at, 0, c.view);
  at = writeHead(out, at, 0, c.height);
  at = writeHead(out, at, 2, HASH_BYTES);
  out.set(c.blockHash, at);
  at += HASH_BYTES;
  at = writeHead(out, at, 0, c.replica);
  at = writeHead(out, at, 2, SIGNATURE_BYTES);
  out.set(c.signature, at);
  at += SIGNATURE_BYTES;
  at = writeHead(out, at, 2, blockBytes);
  at = writeHead(out, at, 4, 2);
  out.set(c.header, at);
  at += c.header.length;
  at = writeHead(out, at, 4, txs.length);
  for (const tx of txs) {
    at = writeHead(out, at, 2, tx.length);
    out.set(tx, at);
    at += tx.length;
  }
  return out;
}

// ---- txfetch: request and response -------------------------------------------------------------------

export const TxFetchKind = { txs: 0, message: 1 } as const;
export const TxFetchStatus = { ok: 0, unknownBlock: 1, badRequest: 2 } as const;

export type TxFetchRequest =
  | { kind: typeof TxFetchKind.txs; blockHash: Uint8Array; positions: number[] }
  | { kind: typeof TxFetchKind.message; blockHash: Uint8Array };

/** Largest txfetch request: [kind, blockHash, positions] with `maxTxs` positions of up to 5 bytes. */
export function maxTxFetchRequestBytes(l: CompactLimits): number {
  return 48 + 5 * l.maxTxs;
}

export function encodeTxFetchRequest(r: TxFetchRequest): Uint8Array {
  return encodeCanonical([r.kind, r.blockHash, r.kind === TxFetchKind.txs ? r.positions : []]);
}

function badPositions(why: string): CompactError {
  return new CompactError(P2PErrorCode.txFetchBadPositions, why);
}

/**
 * Strict decode of a txfetch request: [0, blockHash, positions] with 1..maxTxs strictly increasing
 * positions (a duplicate or an unsorted list is refused), or [1, blockHash, []] for the whole message.
 * Positions beyond the block are refused by the server, which knows the block.
 */
export function decodeTxFetchRequest(
  bytes: Uint8Array,
  limits: CompactLimits = DEFAULT_COMPACT_LIMITS,
): TxFetchRequest {
  let v: CborValue;
  try {
    v = decodeCanonical(bytes, { maxBytes: maxTxFetchRequestBytes(limits), maxDepth: 2 });
  } catch (e) {
    throw malformed(`txfetch request is not canonical CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.length !== 3) throw malformed('txfetch request: expected 3 fields');
  const kind = v[0];
  const blockHash = bytesField(v[1], 'blockHash', HASH_BYTES);
  const list = v[2];
  if (!Array.isArray(list)) throw malformed('positions: not an array');
  if (kind === TxFetchKind.message) {
    if (list.length !== 0) throw badPositions('a request for the whole message lists no positions');
    return { kind, blockHash };
  }
  if (kind !== TxFetchKind.txs) throw malformed(`unknown txfetch request kind ${String(kind)}`);
  if (list.length === 0) throw badPositions('no positions');
  if (list.length > limits.maxTxs) throw badPositions(`${list.length} positions > ${limits.maxTxs}`);
  const positions = list.map((x, i) => uintField(x, `positions[${i}]`));
  for (let i = 1; i < positions.length; i++) {
    if (positions[i]! <= positions[i - 1]!)
      throw badPositions(`positions must be strictly increasing (duplicate or unsorted at ${i})`);
  }
  return { kind, blockHash, positions };
}

export type TxFetchResponse =
  | { status: typeof TxFetchStatus.ok; txs: Uint8Array[] }
  | { status: typeof TxFetchStatus.ok; message: Uint8Array }
  | { status: typeof TxFetchStatus.unknownBlock | typeof TxFetchStatus.badRequest };

export function encodeTxFetchResponse(r: TxFetchResponse): Uint8Array {
  if (r.status !== TxFetchStatus.ok) return encodeCanonical([r.status, null]);
  return encodeCanonical([r.status, 'txs' in r ? r.txs : r.message]);
}

/**
 * Decode and check a txfetch response against the request and the compact message's ids: status ok,
 * exactly one transaction per requested position, each with the leaf hash the signed header commits
 * to there (P2P_TXFETCH_WRONG_TX otherwise), or for the whole message a PRE-PREPARE of the asked block
 * hash. An unknown block (evicted from the sender's cache) is P2P_TXFETCH_UNKNOWN_BLOCK, no offence.
 */
export function decodeTxFetchResponse(
  bytes: Uint8Array,
  request: TxFetchRequest,
  ids: readonly Uint8Array[],
  maxBytes: number,
): Uint8Array[] | Uint8Array {
  const bad = (why: string) => new CompactError(P2PErrorCode.txFetchBadResponse, why);
  let v: CborValue;
  try {
    v = decodeCanonical(bytes, { maxBytes, maxDepth: 2 });
  } catch (e) {
    throw bad(`not canonical CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.length !== 2) throw bad('expected [status, payload]');
  const [status, payload] = v;
  if (status === TxFetchStatus.unknownBlock && payload === null)
    throw new CompactError(P2PErrorCode.txFetchUnknownBlock, 'the peer no longer has the block');
  if (status !== TxFetchStatus.ok) throw bad(`status ${String(status)}`);
  if (request.kind === TxFetchKind.message) {
    if (!(payload instanceof Uint8Array)) throw bad('payload: not a byte string');
    const got = compactHeadOfPrePrepare(payload);
    if (got === undefined || !equal(got, request.blockHash))
      throw bad('not a PRE-PREPARE of the requested block');
    return payload;
  }
  if (!Array.isArray(payload)) throw bad('payload: not an array');
  if (payload.length !== request.positions.length)
    throw bad(`${payload.length} transactions for ${request.positions.length} positions`);
  return payload.map((tx, i) => {
    if (!(tx instanceof Uint8Array) || tx.length > MAX_TX_BYTES) throw bad(`transaction ${i}: not a tx`);
    const want = ids[request.positions[i]!];
    if (want === undefined || !equal(leafId(tx), want))
      throw new CompactError(
        P2PErrorCode.txFetchWrongTx,
        `transaction ${i} is not the one at position ${request.positions[i]}`,
      );
    return tx;
  });
}

/** The blockHash field of an encoded PRE-PREPARE, or undefined when `m` is not laid out as one. */
function compactHeadOfPrePrepare(m: Uint8Array): Uint8Array | undefined {
  if (m.length < 2 || m[0] !== (0x80 | PRE_PREPARE_FIELDS) || m[1] !== PRE_PREPARE_TYPE) return undefined;
  const view = readHead(m, 2);
  const height = view && view.major === 0 ? readHead(m, view.next) : undefined;
  const hash = height && height.major === 0 ? readHead(m, height.next) : undefined;
  if (hash === undefined || hash.major !== 2 || hash.arg !== HASH_BYTES) return undefined;
  if (hash.next + HASH_BYTES > m.length) return undefined;
  return m.subarray(hash.next, hash.next + HASH_BYTES);
}
