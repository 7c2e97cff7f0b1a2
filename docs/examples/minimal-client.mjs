// A minimal, independent Vigil device client, written from the published documents only:
// docs/protocol.md (wire format), docs/state-machine.md (bodies), docs/api.md (HTTP API, signed requests),
// docs/storage.md (proofs, receipts roots in the state) and docs/vectors/wire-v1.json. It imports nothing from Vigil; its only
// dependencies are @noble/ed25519, @noble/hashes and Node built-ins.
//
//   node docs/examples/minimal-client.mjs vectors [FILE]          check every vector, offline
//   node docs/examples/minimal-client.mjs keygen                  a fresh device seed and public key
//   node docs/examples/minimal-client.mjs device-flow --node URL --seed HEX --patient HEX [--validators HEX,...]
//
// See docs/examples/README.md.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;

// ---------------------------------------------------------------------------------------------------
// Bytes

export const hex = (bytes) => Buffer.from(bytes).toString('hex');
export function unhex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
    throw new Error(`not lower-case hex: ${String(s).slice(0, 40)}`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
export const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const utf8 = (s) => new TextEncoder().encode(s);
const isBytes = (v) => v instanceof Uint8Array;
const isUint = (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

// ---------------------------------------------------------------------------------------------------
// Errors (docs/protocol.md §11)

export class WireError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}
const fail = (code, message) => {
  throw new WireError(code, message);
};

// ---------------------------------------------------------------------------------------------------
// Canonical CBOR (docs/protocol.md §2): unsigned and negative integers, byte and text strings,
// arrays, false, true, null. Integers up to 2^53-1 in magnitude are numbers, larger ones bigints.

const TWO64 = 1n << 64n;

export function encode(value) {
  const out = [];
  const head = (major, arg) => {
    const n = BigInt(arg);
    if (n < 24n) out.push((major << 5) | Number(n));
    else if (n < 0x100n) out.push((major << 5) | 24, Number(n));
    else if (n < 0x10000n) out.push((major << 5) | 25, Number(n >> 8n), Number(n & 0xffn));
    else if (n < 0x100000000n) {
      out.push((major << 5) | 26);
      for (let s = 24n; s >= 0n; s -= 8n) out.push(Number((n >> s) & 0xffn));
    } else if (n < TWO64) {
      out.push((major << 5) | 27);
      for (let s = 56n; s >= 0n; s -= 8n) out.push(Number((n >> s) & 0xffn));
    } else throw new TypeError('integer out of range');
  };
  const item = (v, depth) => {
    if (depth > 16) throw new TypeError('arrays nested deeper than 16');
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new TypeError(`not an integer: ${v}`);
      const n = BigInt(v);
      if (n >= 0n) head(0, n);
      else if (n >= -(TWO64 - 1n)) head(1, -1n - n);
      else throw new TypeError('integer out of range');
    } else if (isBytes(v)) {
      head(2, v.length);
      for (const b of v) out.push(b);
    } else if (typeof v === 'string') {
      if (!v.isWellFormed()) throw new TypeError('text is not well-formed UTF-16');
      const b = utf8(v);
      head(3, b.length);
      for (const x of b) out.push(x);
    } else if (Array.isArray(v)) {
      head(4, v.length);
      for (const x of v) item(x, depth + 1);
    } else if (v === false) out.push(0xf4);
    else if (v === true) out.push(0xf5);
    else if (v === null) out.push(0xf6);
    else throw new TypeError(`no canonical CBOR for ${typeof v}`);
  };
  item(value, 1);
  return new Uint8Array(out);
}

export const LIMITS = {
  generic: 8 * 1024 * 1024,
  transaction: 65536,
  block: 4 * 1024 * 1024,
  header: 1024,
  certificate: 16 + 1024 * 80,
  txsPerBlock: 10000,
  votes: 1024,
};

/** docs/protocol.md §2 "Decoding": heads are checked as they are read, UTF-8 after the whole scan. */
export function decode(bytes, maxLength = LIMITS.generic) {
  if (bytes.length > maxLength) fail('TOO_LARGE', `${bytes.length} bytes > ${maxLength}`);
  let pos = 0;
  let badUtf8 = false;
  const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const need = (n) => {
    if (n > bytes.length - pos) fail('MALFORMED', 'truncated');
  };
  const readArg = (ai) => {
    if (ai < 24) return ai;
    const n = 1 << (ai - 24);
    need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[pos++]);
    const min = [24n, 0x100n, 0x10000n, 0x100000000n][ai - 24];
    if (v < min) fail('NON_CANONICAL', 'head not in its shortest form');
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const item = (depth) => {
    need(1);
    const ib = bytes[pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai >= 28 && ai <= 30) fail('MALFORMED', `reserved additional information ${ai}`);
    if (ai === 31) {
      if (major === 2 || major === 3 || major === 4 || major === 5)
        fail('NON_CANONICAL', 'indefinite length');
      fail('MALFORMED', major === 7 ? 'stray break' : 'indefinite length on an integer or tag');
    }
    if (major === 7) {
      if (ai === 20) return false;
      if (ai === 21) return true;
      if (ai === 22) return null;
      if (ai >= 24) need(1 << (ai - 24));
      fail('UNSUPPORTED_TYPE', ai >= 25 ? 'float' : 'simple value');
    }
    if (major === 5) fail('UNSUPPORTED_TYPE', 'map');
    if (major === 6) fail('UNSUPPORTED_TYPE', 'tag');
    const arg = readArg(ai);
    switch (major) {
      case 0:
        return arg;
      case 1:
        if (arg === TWO64 - 1n) fail('UNSUPPORTED_TYPE', '-(2^64)');
        return typeof arg === 'bigint' || arg === Number.MAX_SAFE_INTEGER ? -1n - BigInt(arg) : -1 - arg;
      case 2:
      case 3: {
        if (typeof arg === 'bigint' || arg > bytes.length - pos) fail('MALFORMED', 'string past the end');
        const s = bytes.slice(pos, pos + arg);
        pos += arg;
        if (major === 2) return s;
        try {
          return utf8Strict.decode(s);
        } catch {
          badUtf8 = true;
          return '';
        }
      }
      default: {
        // major 4, array
        if (typeof arg === 'bigint' || arg > bytes.length - pos)
          fail('MALFORMED', 'array count past the end');
        if (depth > 16) fail('TOO_DEEP', 'arrays nested deeper than 16');
        const out = [];
        for (let i = 0; i < arg; i++) out.push(item(depth + 1));
        return out;
      }
    }
  };
  const value = item(1);
  if (pos !== bytes.length) fail('TRAILING_BYTES', `${bytes.length - pos} bytes after the item`);
  if (badUtf8) fail('NON_CANONICAL', 'text string is not well-formed UTF-8');
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Signing payload (§4) and the Ed25519 acceptance rule (§5)

export function signingPayload(domain, chainId, payload) {
  const c = utf8(chainId);
  return concat(utf8(domain), Uint8Array.of(0, c.length), c, payload);
}

const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const P = (1n << 255n) - 19n;
const le = (b) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
].map((h) => le(unhex(h)));
const yOf = (b) => le(b) & ((1n << 255n) - 1n);

export function publicKeyOf(seed) {
  return ed.getPublicKey(seed);
}
export function sign(message, seed) {
  return ed.sign(message, seed);
}

/** Exactly the rule of docs/protocol.md §5 (cofactorless, no small-order A or R, S < L, canonical A). */
export function verifySignature(signature, message, publicKey) {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const rBytes = signature.subarray(0, 32);
  const s = le(signature.subarray(32, 64));
  if (s >= L) return false;
  if (yOf(publicKey) >= P) return false;
  let a;
  try {
    a = ed.Point.fromBytes(publicKey, false);
  } catch {
    return false;
  }
  if (SMALL_ORDER_Y.includes(yOf(publicKey))) return false;
  if (SMALL_ORDER_Y.includes(yOf(rBytes))) return false;
  const k = le(sha512(concat(rBytes, publicKey, message))) % L;
  const r = ed.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
  return equalBytes(r.toBytes(), rBytes);
}

// ---------------------------------------------------------------------------------------------------
// Transactions (§6, §7)

export const TX_TYPES = {
  proposeGovernance: 1,
  approveGovernance: 2,
  enrolClinician: 10,
  enrolResearcher: 11,
  suspendActor: 12,
  reinstateActor: 13,
  registerPatient: 20,
  appointGuardian: 21,
  removeGuardian: 22,
  bindDevice: 30,
  rotateDeviceKey: 31,
  suspendDevice: 32,
  revokeDevice: 33,
  grantAccess: 40,
  revokeAccess: 41,
  emergencyAccess: 42,
  closeEmergencyAccess: 43,
  researchConsent: 44,
  submitReadings: 50,
  recordObservation: 51,
  recordAccess: 52,
  setAlertPolicy: 60,
  acknowledgeAlert: 61,
};
const KNOWN_TYPES = new Set(Object.values(TX_TYPES));
const CHAIN_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The 7 signed fields as a canonical CBOR array (head 0x87). */
export function encodeUnsigned({ version = 1, chainId, type, sender, nonce, timestamp, body }) {
  return encode([version, chainId, type, sender, nonce, timestamp, body]);
}
export function txSigningBytes(fields) {
  return signingPayload('vigil/tx/v1', fields.chainId, encodeUnsigned(fields));
}
export const txId = (fields) => sha256(txSigningBytes(fields));

/** Build, sign and encode a transaction: {fields, id, signature, encoded}. */
export function signTransaction(fields, seed) {
  const full = { version: 1, ...fields, sender: fields.sender ?? publicKeyOf(seed) };
  const signed = txSigningBytes(full);
  const signature = sign(signed, seed);
  const unsigned = encodeUnsigned(full);
  // encoded = 88 || unsigned[1..] || 5840 || signature
  const encoded = concat(Uint8Array.of(0x88), unsigned.subarray(1), Uint8Array.of(0x58, 0x40), signature);
  return { fields: full, id: sha256(signed), signature, encoded };
}

export function decodeTransaction(bytes, expectedChainId) {
  const v = decode(bytes, LIMITS.transaction);
  if (!Array.isArray(v)) fail('WRONG_TYPE', 'a transaction is an array');
  if (v.length > 0 && v[0] !== 1) fail('UNSUPPORTED_VERSION', `version ${v[0]}`);
  if (v.length !== 8) fail('WRONG_TYPE', `arity ${v.length}, expected 8`);
  const [version, chainId, type, sender, nonce, timestamp, body, signature] = v;
  if (typeof chainId !== 'string' || !CHAIN_ID.test(chainId)) fail('WRONG_TYPE', 'chainId');
  if (!isUint(type)) fail('WRONG_TYPE', 'type');
  if (!KNOWN_TYPES.has(type)) fail('UNKNOWN_TX_TYPE', `type ${type}`);
  if (!isBytes(sender) || sender.length !== 32) fail('WRONG_TYPE', 'sender');
  if (!isUint(nonce)) fail('WRONG_TYPE', 'nonce');
  if (!isUint(timestamp)) fail('WRONG_TYPE', 'timestamp');
  if (!Array.isArray(body)) fail('WRONG_TYPE', 'body');
  if (!isBytes(signature) || signature.length !== 64) fail('WRONG_TYPE', 'signature');
  if (expectedChainId !== undefined && chainId !== expectedChainId) fail('WRONG_CHAIN', chainId);
  return { version, chainId, type, sender, nonce, timestamp, body, signature };
}

// ---------------------------------------------------------------------------------------------------
// Merkle tree (§8): RFC 6962 tree hash, RFC 9162 §2.1.3.2 inclusion check

export const leafHash = (tx) => sha256(concat(Uint8Array.of(0), tx));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

export function merkleRoot(leaves) {
  const mth = (d) => {
    if (d.length === 0) return sha256(new Uint8Array(0));
    if (d.length === 1) return leafHash(d[0]);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
  };
  return mth(leaves);
}

/** RFC 9162 §2.1.3.2, with the leaf hash given. */
export function verifyInclusion(leaf, index, size, path, root) {
  const r = inclusionRoot(leaf, index, size, path);
  return r !== null && equalBytes(r, root);
}

/** The root RFC 9162 §2.1.3.2 computes from a leaf hash and its path, or null if the path cannot be one. */
export function inclusionRoot(leaf, index, size, path) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// ---------------------------------------------------------------------------------------------------
// Blocks (§9)

const bytes32 = (v) => isBytes(v) && v.length === 32;

function headerFromValue(v, expectedChainId) {
  if (!Array.isArray(v)) fail('WRONG_TYPE', 'a header is an array');
  if (v.length > 0 && v[0] !== 1) fail('UNSUPPORTED_VERSION', `version ${v[0]}`);
  if (v.length !== 11) fail('WRONG_TYPE', `arity ${v.length}, expected 11`);
  const [, chainId, height, view, prevHash, txRoot, txCount, stateRoot, stateHeight, proposer, timestamp] = v;
  if (typeof chainId !== 'string' || !CHAIN_ID.test(chainId)) fail('WRONG_TYPE', 'chainId');
  if (!isUint(height) || height < 1) fail('WRONG_TYPE', 'height');
  if (!isUint(view)) fail('WRONG_TYPE', 'view');
  if (!bytes32(prevHash) || !bytes32(txRoot) || !bytes32(stateRoot)) fail('WRONG_TYPE', 'hash field');
  if (!isUint(txCount) || txCount > LIMITS.txsPerBlock) fail('WRONG_TYPE', 'txCount');
  if (!isUint(stateHeight) || !isUint(proposer) || !isUint(timestamp)) fail('WRONG_TYPE', 'integer field');
  if (expectedChainId !== undefined && chainId !== expectedChainId) fail('WRONG_CHAIN', chainId);
  if (height === 1 && !prevHash.every((b) => b === 0)) fail('INCONSISTENT', 'prevHash at height 1');
  if (stateHeight >= height) fail('INCONSISTENT', 'stateHeight >= height');
  return { chainId, height, view, prevHash, txRoot, txCount, stateRoot, stateHeight, proposer, timestamp };
}

export function decodeBlockHeader(bytes, expectedChainId) {
  const header = headerFromValue(decode(bytes, LIMITS.header), expectedChainId);
  return { ...header, hash: sha256(bytes) };
}

export function decodeBlock(bytes, expectedChainId) {
  const v = decode(bytes, LIMITS.block);
  if (!Array.isArray(v) || v.length !== 2) fail('WRONG_TYPE', 'a block is [header, txs]');
  const encodedHeader = encode(v[0]);
  if (encodedHeader.length > LIMITS.header) fail('TOO_LARGE', 'header');
  const header = { ...headerFromValue(v[0], expectedChainId), hash: sha256(encodedHeader) };
  const txs = v[1];
  if (!Array.isArray(txs) || !txs.every(isBytes)) fail('WRONG_TYPE', 'txs is an array of byte strings');
  if (txs.length > LIMITS.txsPerBlock) fail('WRONG_TYPE', 'too many transactions');
  if (txs.some((t) => t.length > LIMITS.transaction)) fail('TOO_LARGE', 'transaction in block');
  if (header.txCount !== txs.length) fail('INCONSISTENT', 'txCount');
  if (!equalBytes(header.txRoot, merkleRoot(txs))) fail('INCONSISTENT', 'txRoot');
  return { header, txs };
}

// ---------------------------------------------------------------------------------------------------
// Commit certificates (§10)

export function decodeCertificate(bytes) {
  const v = decode(bytes, LIMITS.certificate);
  if (!Array.isArray(v)) fail('WRONG_TYPE', 'a certificate is an array');
  if (v.length > 0 && v[0] !== 1) fail('UNSUPPORTED_VERSION', `version ${v[0]}`);
  if (v.length !== 5) fail('WRONG_TYPE', `arity ${v.length}, expected 5`);
  const [, height, view, blockHash, votes] = v;
  if (!isUint(height) || height < 1) fail('WRONG_TYPE', 'height');
  if (!isUint(view)) fail('WRONG_TYPE', 'view');
  if (!bytes32(blockHash)) fail('WRONG_TYPE', 'blockHash');
  if (!Array.isArray(votes) || votes.length > LIMITS.votes) fail('WRONG_TYPE', 'votes');
  const out = [];
  for (const vote of votes) {
    if (!Array.isArray(vote) || vote.length !== 2) fail('WRONG_TYPE', 'vote');
    const [validator, signature] = vote;
    if (!isUint(validator)) fail('WRONG_TYPE', 'vote validator');
    if (!isBytes(signature) || signature.length !== 64) fail('WRONG_TYPE', 'vote signature');
    const prev = out.at(-1);
    if (prev !== undefined && validator === prev.validator)
      fail('CERT_DUPLICATE_VOTE', `validator ${validator}`);
    if (prev !== undefined && validator < prev.validator) fail('INCONSISTENT', 'votes not sorted');
    out.push({ validator, signature });
  }
  return { height, view, blockHash, votes: out };
}

export function voteBytes(chainId, view, height, blockHash, validator) {
  return signingPayload('vigil/pbft/v1', chainId, encode([3, view, height, blockHash, validator]));
}

export function quorum(n) {
  const f = Math.floor((n - 1) / 3);
  return Math.floor((n + f) / 2) + 1;
}

/** §10, the five checks in order. `header` from decodeBlockHeader, `validators` 32-byte keys in index order. */
export function verifyCommitCertificate(chainId, cert, header, validators) {
  if (header.chainId !== chainId) fail('WRONG_CHAIN', header.chainId);
  if (cert.height !== header.height || !equalBytes(cert.blockHash, header.hash) || cert.view < header.view) {
    fail('CERT_MISMATCH', 'certificate is for another block');
  }
  const seen = new Set();
  for (const { validator } of cert.votes) {
    if (validator >= validators.length) fail('CERT_UNKNOWN_VALIDATOR', `validator ${validator}`);
    if (seen.has(validator)) fail('CERT_DUPLICATE_VOTE', `validator ${validator}`);
    seen.add(validator);
  }
  if (cert.votes.length < quorum(validators.length)) fail('CERT_NO_QUORUM', `${cert.votes.length} votes`);
  for (const { validator, signature } of cert.votes) {
    const msg = voteBytes(chainId, cert.view, cert.height, cert.blockHash, validator);
    if (!verifySignature(signature, msg, validators[validator]))
      fail('CERT_BAD_SIGNATURE', `validator ${validator}`);
  }
}

/**
 * A transaction inclusion proof as GET /v1/transactions/{id}/proof serves it (docs/api.md), checked against
 * a validator set the caller trusts. Returns {height, index, blockHash}; throws on any failure.
 */
export function verifyTransactionProof({ chainId, tx, proof, validators }) {
  const header = decodeBlockHeader(unhex(proof.header), chainId);
  const cert = decodeCertificate(unhex(proof.certificate));
  verifyCommitCertificate(chainId, cert, header, validators);
  const leaf = leafHash(tx);
  if (proof.leaf !== undefined && proof.leaf !== hex(leaf)) throw new Error('TX_PROOF_INVALID: leaf hash');
  if (proof.height !== header.height) throw new Error('TX_PROOF_INVALID: height');
  const path = proof.proof.map(unhex);
  if (!verifyInclusion(leaf, proof.index, header.txCount, path, header.txRoot)) {
    throw new Error('TX_PROOF_INVALID: audit path');
  }
  return { height: header.height, index: proof.index, blockHash: hex(header.hash) };
}

// ---------------------------------------------------------------------------------------------------
// State proofs (docs/storage.md, "State tree" and "Proofs")

const EMPTY = new Uint8Array(32);
const bitAt = (hash, i) => (hash[i >> 3] >> (7 - (i & 7))) & 1;

/** The root a sparse-Merkle proof `[1, [sibling...], null | [keyHash, valueHash]]` leads to for `key`. */
export function stateProofRoot(proofBytes, key, value) {
  const v = decode(proofBytes);
  if (!Array.isArray(v) || v.length !== 3 || v[0] !== 1 || !Array.isArray(v[1]))
    fail('WRONG_TYPE', 'state proof');
  const [, siblings, leaf] = v;
  if (siblings.length > 256 || !siblings.every(bytes32)) fail('WRONG_TYPE', 'siblings');
  if (leaf !== null && (!Array.isArray(leaf) || leaf.length !== 2 || !leaf.every(bytes32)))
    fail('WRONG_TYPE', 'leaf');
  const keyHash = sha256(key);
  if (value !== null) {
    // inclusion: the leaf is this key's, with this value
    if (leaf === null || !equalBytes(leaf[0], keyHash) || !equalBytes(leaf[1], sha256(value))) {
      throw new Error('STATE_PROOF_INVALID: not a proof of this value');
    }
  } else if (leaf !== null) {
    // exclusion by another key's leaf sharing the first siblings.length bits of the path
    if (equalBytes(leaf[0], keyHash)) throw new Error('STATE_PROOF_INVALID: the key is present');
    for (let i = 0; i < siblings.length; i++) {
      if (bitAt(leaf[0], i) !== bitAt(keyHash, i)) throw new Error('STATE_PROOF_INVALID: leaf off the path');
    }
  }
  let h = leaf === null ? EMPTY : sha256(concat(utf8('VSMT-LEAF'), leaf[0], leaf[1]));
  for (let i = siblings.length - 1; i >= 0; i--) {
    h =
      bitAt(keyHash, i) === 0
        ? sha256(concat(utf8('VSMT-NODE'), h, siblings[i]))
        : sha256(concat(utf8('VSMT-NODE'), siblings[i], h));
  }
  return h;
}

/** A GET /v1/proofs/{key} answer (docs/api.md) against a trusted validator set; returns {stateHeight}. */
export function verifyStateProof({ chainId, answer, validators }) {
  const header = decodeBlockHeader(unhex(answer.header), chainId);
  const cert = decodeCertificate(unhex(answer.certificate));
  verifyCommitCertificate(chainId, cert, header, validators);
  const value = answer.value === null ? null : unhex(answer.value);
  const root = stateProofRoot(unhex(answer.proof), unhex(answer.key), value);
  if (!equalBytes(root, header.stateRoot))
    throw new Error('STATE_PROOF_INVALID: root is not the header stateRoot');
  return { stateHeight: header.stateHeight, height: header.height };
}

// ---------------------------------------------------------------------------------------------------
// Outcomes: receipts in the state (docs/protocol.md §9 "Receipts in the state", docs/api.md "Outcome",
// docs/storage.md framework keys)

/** uint64 big-endian. */
export function u64be(n) {
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The framework's state key of block `height`'s receipts root: 00 || "receipts/" || uint64be(height). */
export const receiptsRootKey = (height) => concat(Uint8Array.of(0), utf8('receipts/'), u64be(height));

/** A receipt's canonical CBOR: [0, txId] accepted, [1, code, txId | null] rejected. */
export function encodeReceipt(r) {
  return r.status === 'accepted' ? encode([0, r.txId]) : encode([1, r.code, r.txId ?? null]);
}

export function decodeReceipt(bytes) {
  const v = decode(bytes);
  if (Array.isArray(v) && v.length === 2 && v[0] === 0 && bytes32(v[1]))
    return { status: 'accepted', txId: v[1] };
  if (
    Array.isArray(v) &&
    v.length === 3 &&
    v[0] === 1 &&
    typeof v[1] === 'string' &&
    (v[2] === null || bytes32(v[2]))
  ) {
    return { status: 'rejected', code: v[1], txId: v[2] };
  }
  fail('WRONG_TYPE', 'not a receipt');
}

/** The state entry's value: the canonical CBOR byte string (58 20 || root) of the block's receipts root. */
export const receiptsRootValue = (root) => encode(root);

/** MTH over a block's receipts (encoded), §8 with receipts as leaves. */
export const receiptsRoot = (receipts) => merkleRoot(receipts);

/** The id of an encoded transaction: SHA-256 of its signed bytes (§7). */
export function txIdOfEncoded(bytes) {
  return txId(decodeTransaction(bytes));
}

/**
 * A transaction's outcome as GET /v1/transactions/{id}/proof serves it once `outcome` is present: (1) the
 * inclusion of `tx` (txRoot of its certified block, position i); (2) the receipt's RFC 9162 path to
 * `receiptsRoot` at the same position i, tree size txCount; (3) the sparse-Merkle proof of the state entry
 * 00 || "receipts/" || uint64be(height) = receiptsRoot against the stateRoot of the certified header in
 * `outcome`; (4) the receipt names this transaction. Returns {status, code?, height, index, outcomeHeight}.
 * One validator set for both headers: enough while no validator change falls between them (a later header
 * is certified by the set of its own height, docs/api.md).
 */
export function verifyTransactionOutcome({ chainId, tx, proof, validators }) {
  const inclusion = verifyTransactionProof({ chainId, tx, proof, validators });
  if (proof.receipt === undefined || proof.receiptProof === undefined || proof.receiptsRoot === undefined) {
    throw new Error('RECEIPT_PROOF_INVALID: no receipt in the answer');
  }
  if (proof.outcome === undefined) throw new Error('STATE_PROOF_INVALID: no outcome in the answer (yet)');
  const header = decodeBlockHeader(unhex(proof.header), chainId);
  const receipt = unhex(proof.receipt);
  const root = unhex(proof.receiptsRoot);
  if (root.length !== 32) throw new Error('RECEIPT_PROOF_INVALID: receiptsRoot is not 32 bytes');
  if (!verifyInclusion(leafHash(receipt), proof.index, header.txCount, proof.receiptProof.map(unhex), root)) {
    throw new Error('RECEIPT_PROOF_INVALID: receipt path');
  }
  const o = proof.outcome;
  const oHeader = decodeBlockHeader(unhex(o.header), chainId);
  verifyCommitCertificate(chainId, decodeCertificate(unhex(o.certificate)), oHeader, validators);
  if (o.height !== oHeader.height) throw new Error('STATE_PROOF_INVALID: outcome height');
  const stateRoot = stateProofRoot(
    unhex(o.stateProof),
    receiptsRootKey(header.height),
    receiptsRootValue(root),
  );
  if (!equalBytes(stateRoot, oHeader.stateRoot)) {
    throw new Error('STATE_PROOF_INVALID: the receipts entry is not in the certified state');
  }
  const r = decodeReceipt(receipt);
  if (r.txId === null || !equalBytes(r.txId, txIdOfEncoded(tx))) {
    throw new Error('RECEIPT_PROOF_INVALID: the receipt names another transaction');
  }
  return {
    status: r.status,
    ...(r.code !== undefined ? { code: r.code } : {}),
    height: inclusion.height,
    index: inclusion.index,
    outcomeHeight: oHeader.height,
    stateHeight: oHeader.stateHeight,
  };
}

/**
 * Ask for the proof until it carries `outcome`: the next blocks certify it on a busy chain, and on a quiet
 * one the idle primary's blocks do after 5 s of quiet (ADR 0125), so allow 20 s.
 */
export async function fetchOutcomeProof(node, id, { seed, chainId, timeoutMs = 20000 } = {}) {
  const path = `/v1/transactions/${id}/proof`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    // A signed request takes a fresh nonce each time (docs/api.md, replay window).
    const headers = seed ? signRequest({ seed, chainId, method: 'GET', path }).headers : {};
    const p = await http(node, 'GET', path, { headers });
    if (p.status !== 200) throw new Error(`proof ${id}: ${p.status} ${JSON.stringify(p.json)}`);
    if (p.json.outcome !== undefined) return { proof: p.json, attempts: attempt };
    if (Date.now() > deadline) throw new Error(`proof ${id}: no outcome after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------------------------------------------
// Signed HTTP requests (docs/api.md, "Signed requests")

export function canonicalRequest({
  method,
  path,
  query = '',
  body = new Uint8Array(0),
  timestamp,
  nonce,
  purpose,
}) {
  return [
    method.toUpperCase(),
    path,
    query,
    hex(sha256(body)),
    String(timestamp),
    nonce,
    String(purpose ?? 1),
  ].join('\n');
}

export function signRequest({
  seed,
  chainId,
  method,
  path,
  query = '',
  body,
  timestamp = Date.now(),
  nonce,
  purpose = 1,
}) {
  const n = nonce ?? hex(randomBytes(16));
  const c = canonicalRequest({ method, path, query, body, timestamp, nonce: n, purpose });
  const signedBytes = signingPayload('vigil/http/v1', chainId, utf8(c));
  return {
    signedBytes,
    headers: {
      'x-vigil-key': hex(publicKeyOf(seed)),
      'x-vigil-timestamp': String(timestamp),
      'x-vigil-nonce': n,
      'x-vigil-purpose': String(purpose),
      'x-vigil-signature': hex(sign(signedBytes, seed)),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Vectors: docs/vectors/wire-v1.json, and the signed-request example of docs/api.md

const fromVectorValue = (v) => {
  if (Array.isArray(v)) return v.map(fromVectorValue);
  if (v !== null && typeof v === 'object' && typeof v.hex === 'string') return unhex(v.hex);
  return v;
};
const seedOf = (first) => Uint8Array.from({ length: 32 }, (_, i) => first + i);

/** Runs every applicable check; returns [{name, ok, detail?}]. */
export function runVectors(file = fileURLToPath(new URL('../vectors/wire-v1.json', import.meta.url))) {
  const V = JSON.parse(readFileSync(file, 'utf8'));
  const results = [];
  const check = (name, fn) => {
    try {
      const r = fn();
      results.push(
        r === true || r === undefined ? { name, ok: true } : { name, ok: false, detail: String(r) },
      );
    } catch (e) {
      results.push({ name, ok: false, detail: e.message });
    }
  };
  const expectEq = (a, b) => (a === b ? true : `got ${a}, expected ${b}`);
  const chainId = V.chainId;

  for (const [who, k] of Object.entries(V.keys)) {
    const list = Array.isArray(k) ? k : [k];
    for (const key of list) {
      check(`key ${who}${key.index ?? ''}`, () => expectEq(hex(publicKeyOf(unhex(key.seed))), key.publicKey));
    }
  }
  const sp = V.signingPayloadExample;
  check('signing payload', () =>
    expectEq(hex(signingPayload(sp.domain, sp.chainId, unhex(sp.payload))), sp.bytes),
  );

  // docs/protocol.md §12: "Seeds are 32 consecutive byte values starting at the given byte".
  check('key seeds are consecutive bytes', () => {
    const all = [V.keys.device, V.keys.patient, ...V.keys.validators];
    return all.every((k) => hex(seedOf(unhex(k.seed)[0])) === k.seed) || 'a seed is not consecutive';
  });

  const deviceSeed = unhex(V.keys.device.seed);
  for (const t of V.transactions) {
    const fields = { ...t.fields, sender: unhex(t.fields.sender), body: fromVectorValue(t.fields.body) };
    check(`${t.name}: unsigned CBOR`, () => expectEq(hex(encodeUnsigned(fields)), t.unsignedCbor));
    check(`${t.name}: signing bytes`, () => expectEq(hex(txSigningBytes(fields)), t.signingPayload));
    check(`${t.name}: tx id`, () => expectEq(hex(txId(fields)), t.txId));
    const signed = signTransaction(fields, deviceSeed);
    check(`${t.name}: signature`, () => expectEq(hex(signed.signature), t.signature));
    check(`${t.name}: encoding`, () => expectEq(hex(signed.encoded), t.encoded));
    check(`${t.name}: decode + verify`, () => {
      const d = decodeTransaction(unhex(t.encoded), chainId);
      if (!verifySignature(d.signature, txSigningBytes(d), d.sender)) return 'signature does not verify';
      return expectEq(hex(encode(fromVectorValue(t.fields.body))), hex(encode(d.body)));
    });
  }

  const M = V.merkle;
  const leaves = M.leaves.map(unhex);
  check('merkle: empty root', () => expectEq(hex(merkleRoot([])), M.emptyRoot));
  check('merkle: leaf hashes', () =>
    expectEq(leaves.map((l) => hex(leafHash(l))).join(), M.leafHashes.join()),
  );
  check('merkle: root', () => expectEq(hex(merkleRoot(leaves)), M.root));
  M.proofs.forEach((p, i) => {
    check(
      `merkle: proof ${i}`,
      () => verifyInclusion(leafHash(leaves[i]), i, leaves.length, p.map(unhex), unhex(M.root)) || 'rejected',
    );
    check(
      `merkle: proof ${i} at the wrong index is refused`,
      () =>
        !verifyInclusion(leafHash(leaves[i]), 1 - i, leaves.length, p.map(unhex), unhex(M.root)) ||
        'accepted',
    );
  });

  // The vectors hold a two-leaf tree only; RFC 6962 §2.1.1 audit paths of other sizes, from our own MTH.
  const auditPath = (m, d) => {
    if (d.length <= 1) return [];
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return m < k
      ? [...auditPath(m, d.slice(0, k)), merkleRoot(d.slice(k))]
      : [...auditPath(m - k, d.slice(k)), merkleRoot(d.slice(0, k))];
  };
  check('merkle: RFC 9162 check on trees of 1..17 leaves', () => {
    for (let n = 1; n <= 17; n++) {
      const d = Array.from({ length: n }, (_, i) => Uint8Array.of(i));
      const root = merkleRoot(d);
      for (let m = 0; m < n; m++) {
        const path = auditPath(m, d);
        if (!verifyInclusion(leafHash(d[m]), m, n, path, root)) return `n=${n} m=${m} rejected`;
        if (n > 1 && verifyInclusion(leafHash(d[m]), (m + 1) % n, n, path, root))
          return `n=${n} m=${m} wrong index accepted`;
        const reordered = [...path.slice(1), path[0]];
        if (path.length > 1 && verifyInclusion(leafHash(d[m]), m, n, reordered, root)) {
          return `n=${n} m=${m} reordered path accepted`;
        }
      }
    }
  });

  // docs/protocol.md §12.5: the receipts of the example block (tx1 accepted, tx2 rejected) and their entry.
  const R = V.receipts;
  if (R === undefined) {
    check('receipts: present in the vectors file', () => 'no "receipts" section');
  } else {
    const rs = R.receipts.map((r) => ({ ...r, txId: unhex(r.txId) }));
    rs.forEach((r, i) => {
      check(`receipts: ${r.status} receipt encoding`, () => expectEq(hex(encodeReceipt(r)), r.encoded));
      check(`receipts: ${r.status} receipt decodes`, () => {
        const d = decodeReceipt(unhex(r.encoded));
        return expectEq(
          `${d.status} ${d.code ?? ''} ${hex(d.txId)}`,
          `${r.status} ${r.code ?? ''} ${hex(r.txId)}`,
        );
      });
      check(`receipts: receipt ${i} names transaction ${i}`, () =>
        expectEq(hex(r.txId), V.transactions[i].txId),
      );
    });
    check('receipts: undecodable bytes', () =>
      expectEq(
        hex(encodeReceipt({ status: 'rejected', code: R.undecodable.code, txId: null })),
        R.undecodable.encoded,
      ),
    );
    const encoded = R.receipts.map((r) => unhex(r.encoded));
    check('receipts: leaf hashes', () =>
      expectEq(encoded.map((r) => hex(leafHash(r))).join(), R.leafHashes.join()),
    );
    check('receipts: root', () => expectEq(hex(receiptsRoot(encoded)), R.root));
    encoded.forEach((r, i) => {
      check(
        `receipts: path ${i}`,
        () =>
          verifyInclusion(leafHash(r), i, encoded.length, R.proofs[i].map(unhex), unhex(R.root)) ||
          'rejected',
      );
    });
    check('receipts: a forged accepted receipt for tx2 fails its path', () => {
      const forged = encodeReceipt({ status: 'accepted', txId: unhex(V.transactions[1].txId) });
      return !verifyInclusion(leafHash(forged), 1, 2, R.proofs[1].map(unhex), unhex(R.root)) || 'accepted';
    });
    const E = R.stateEntry;
    check('receipts: state key', () => expectEq(hex(receiptsRootKey(R.height)), E.key));
    for (const k of R.keys) {
      check(`receipts: state key of height ${k.height}`, () =>
        expectEq(hex(receiptsRootKey(k.height)), k.key),
      );
    }
    check('receipts: state value', () => expectEq(hex(receiptsRootValue(unhex(R.root))), E.value));
    check('receipts: key and value hashes', () =>
      expectEq(`${hex(sha256(unhex(E.key)))} ${hex(sha256(unhex(E.value)))}`, `${E.keyHash} ${E.valueHash}`),
    );
    check('receipts: the entry proven in a state holding only it', () => {
      const proof = encode([1, [], [unhex(E.keyHash), unhex(E.valueHash)]]);
      return expectEq(hex(stateProofRoot(proof, unhex(E.key), unhex(E.value))), E.leafHash);
    });
  }

  const H = V.blockHeader;
  const headerFields = {
    ...H.fields,
    prevHash: unhex(H.fields.prevHash),
    txRoot: unhex(H.fields.txRoot),
    stateRoot: unhex(H.fields.stateRoot),
  };
  const f = headerFields;
  const headerValue = [
    1,
    f.chainId,
    f.height,
    f.view,
    f.prevHash,
    f.txRoot,
    f.txCount,
    f.stateRoot,
    f.stateHeight,
    f.proposer,
    f.timestamp,
  ];
  check('block header: encoding', () => expectEq(hex(encode(headerValue)), H.encoded));
  check('block header: hash', () => expectEq(hex(decodeBlockHeader(unhex(H.encoded), chainId).hash), H.hash));
  check('block: encoding', () => expectEq(hex(encode([headerValue, leaves])), V.block.encoded));
  check('block: decode', () => {
    const b = decodeBlock(unhex(V.block.encoded), chainId);
    return expectEq(hex(b.header.hash), H.hash);
  });

  const validators = V.keys.validators.map((k) => unhex(k.publicKey));
  for (const vote of V.commitVotes) {
    const bytes = voteBytes(chainId, vote.view, vote.height, unhex(H.hash), vote.validator);
    check(`commit vote ${vote.validator}: sign bytes`, () => expectEq(hex(bytes), vote.signBytes));
    const seed = unhex(V.keys.validators[vote.validator].seed);
    check(`commit vote ${vote.validator}: signature`, () => expectEq(hex(sign(bytes, seed)), vote.signature));
  }
  const C = V.commitCertificate;
  check('certificate: quorum', () => expectEq(quorum(C.validatorCount), C.quorum));
  check('certificate: encoding', () => {
    const votes = V.commitVotes.map((v) => [v.validator, unhex(v.signature)]);
    return expectEq(hex(encode([1, 1, 0, unhex(H.hash), votes])), C.encoded);
  });
  const header = decodeBlockHeader(unhex(H.encoded), chainId);
  const cert = decodeCertificate(unhex(C.encoded));
  check('certificate: verifies', () => verifyCommitCertificate(chainId, cert, header, validators));
  const expectCode = (code, fn) => {
    try {
      fn();
      return `accepted, expected ${code}`;
    } catch (e) {
      return expectEq(e.code, code);
    }
  };
  check('certificate: another chain', () =>
    expectCode('WRONG_CHAIN', () => verifyCommitCertificate('vigil-other', cert, header, validators)),
  );
  check('certificate: view below the header', () =>
    expectCode('CERT_MISMATCH', () =>
      verifyCommitCertificate(chainId, cert, { ...header, view: 1 }, validators),
    ),
  );
  check('certificate: two votes', () =>
    expectCode('CERT_NO_QUORUM', () =>
      verifyCommitCertificate(chainId, { ...cert, votes: cert.votes.slice(0, 2) }, header, validators),
    ),
  );
  check('certificate: three validators only', () =>
    expectCode('CERT_UNKNOWN_VALIDATOR', () =>
      verifyCommitCertificate(chainId, cert, header, validators.slice(0, 2)),
    ),
  );
  check('certificate: a swapped key', () =>
    expectCode('CERT_BAD_SIGNATURE', () =>
      verifyCommitCertificate(chainId, cert, header, [validators[1], validators[0], ...validators.slice(2)]),
    ),
  );
  check('transaction proof: tx1 in the example block', () => {
    const proof = {
      leaf: M.leafHashes[0],
      index: 0,
      height: 1,
      proof: M.proofs[0],
      header: H.encoded,
      certificate: C.encoded,
    };
    verifyTransactionProof({ chainId, tx: leaves[0], proof, validators });
    try {
      verifyTransactionProof({ chainId, tx: leaves[1], proof: { ...proof, leaf: undefined }, validators });
      return 'another transaction accepted';
    } catch (e) {
      return e.message.startsWith('TX_PROOF_INVALID') || e.message;
    }
  });

  const decoders = {
    cbor: (b) => decode(b),
    transaction: (b) => decodeTransaction(b, chainId),
    blockHeader: (b) => decodeBlockHeader(b, chainId),
    block: (b) => decodeBlock(b, chainId),
    certificate: (b) => decodeCertificate(b),
  };
  for (const m of V.malformed) {
    check(`malformed: ${m.name}`, () => {
      const decoder = decoders[m.decoder];
      if (!decoder) return `unknown decoder ${m.decoder}`;
      return expectCode(m.error, () => decoder(unhex(m.hex)));
    });
  }
  for (const s of V.signatures) {
    check(`signature: ${s.name}`, () =>
      expectEq(verifySignature(unhex(s.signature), unhex(s.message), unhex(s.publicKey)), s.valid),
    );
  }

  // docs/api.md, "Signed requests", worked example.
  check('signed request (docs/api.md example)', () => {
    const seed = new Uint8Array(32).fill(1);
    const patient = 'ab'.repeat(32);
    const { signedBytes, headers } = signRequest({
      seed,
      chainId: 'vigil-devnet',
      method: 'GET',
      path: `/v1/patients/${patient}/readings`,
      query: 'kind=1&limit=10',
      timestamp: 1700000000000,
      nonce: '00112233445566778899aabbccddeeff',
      purpose: 1,
    });
    const want =
      '766967696c2f687474702f7631000c766967696c2d6465766e65744745540a2f76312f70617469656e74732f616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261622f72656164696e67730a6b696e643d31266c696d69743d31300a653362306334343239386663316331343961666266346338393936666239323432376165343165343634396239333463613439353939316237383532623835350a313730303030303030303030300a30303131323233333434353536363737383839396161626263636464656566660a31';
    const wantSig =
      '458c36ccf2ac69ed6f9cea30afccce5fa343bf2f1efecbbdf8a69decf802fff0dc5322061333a615a9033b977d89c1b4d499dbfcf4067921a83f456d4b5c050c';
    if (headers['x-vigil-key'] !== '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c')
      return 'public key';
    return expectEq(hex(signedBytes), want) === true
      ? expectEq(headers['x-vigil-signature'], wantSig)
      : 'signed bytes differ';
  });
  return results;
}

// ---------------------------------------------------------------------------------------------------
// HTTP (docs/api.md)

export async function http(base, method, path, { body, contentType, headers = {} } = {}) {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
    body,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json };
}

/** Submit one encoded transaction as application/cbor; `wait` holds until its block is applied. */
export function submit(base, encoded, { wait = false, timeoutMs = 30000 } = {}) {
  const q = wait ? `?wait=commit&timeoutMs=${timeoutMs}` : '';
  return http(base, 'POST', `/v1/transactions${q}`, { body: encoded, contentType: 'application/cbor' });
}

/** A batch of readings: [kind, wire value, UCUM unit, measuredAt] (docs/state-machine.md, "Readings"). */
export function readingsBody(patient, readings) {
  return [patient, readings.map((r) => [r.kind, r.value, r.unit, r.measuredAt])];
}

/**
 * The device maker's flow against a running node: submit a batch of readings, wait for the commit, fetch and
 * verify the inclusion proof and the outcome proof (accepted), the same for a batch of three, then a reading
 * the state machine rejects (its outcome proven rejected, forged "accepted" receipts refused), then two bad
 * transactions refused at admission with their typed errors.
 * The device must already be bound to the patient (bindDevice, a hospital-side step).
 */
export async function deviceFlow({ node, seed, patient, validators: pinned, log = console.log }) {
  const me = publicKeyOf(seed);
  const status = await http(node, 'GET', '/v1/status');
  if (status.status !== 200) throw new Error(`status: ${status.status}`);
  const chainId = status.json.chainId;
  const account = await http(node, 'GET', `/v1/accounts/${hex(me)}`);
  if (account.status !== 200) throw new Error(`account: ${account.status} ${JSON.stringify(account.json)}`);
  let nonce = account.json.pendingNonce + 1;
  log(`chain ${chainId}, device ${hex(me)}, next nonce ${nonce}`);

  const now = Date.now();
  const readings = [
    { kind: 1, value: 72, unit: '/min', measuredAt: now - 2000 },
    { kind: 1, value: 74, unit: '/min', measuredAt: now - 1000 },
    { kind: 2, value: 97, unit: '%', measuredAt: now - 1000 },
    { kind: 5, value: 368, unit: 'Cel', measuredAt: now - 1000 },
  ];
  const tx = signTransaction(
    {
      chainId,
      type: TX_TYPES.submitReadings,
      nonce,
      timestamp: now,
      body: readingsBody(unhex(patient), readings),
    },
    seed,
  );
  const sub = await submit(node, tx.encoded, { wait: true });
  log(`submitted ${hex(tx.id)}: ${sub.status} ${JSON.stringify(sub.json)}`);
  if (sub.json.id !== hex(tx.id)) throw new Error('the node computed another transaction id');
  if (sub.status !== 200 || sub.json.status !== 'committed')
    throw new Error(`not committed: ${JSON.stringify(sub.json)}`);

  // The proof, signed by the device (the transaction's signer) so that the node includes the bytes.
  const path = `/v1/transactions/${hex(tx.id)}/proof`;
  const signed = signRequest({ seed, chainId, method: 'GET', path });
  const pr = await http(node, 'GET', path, { headers: signed.headers });
  if (pr.status !== 200) throw new Error(`proof: ${pr.status} ${JSON.stringify(pr.json)}`);
  if (pr.json.tx !== undefined && pr.json.tx !== hex(tx.encoded))
    throw new Error('the node serves other bytes');
  log(
    `proof: height ${pr.json.height}, index ${pr.json.index}, path ${pr.json.proof.length}, tx ${pr.json.tx ? 'served' : 'withheld'}`,
  );

  let validators = pinned;
  if (validators === undefined) {
    const block = await http(node, 'GET', `/v1/blocks/${pr.json.height}`);
    validators = block.json.validators.map(unhex);
    log(
      `validator set of block ${pr.json.height} taken from the node (${validators.length} keys): pin it with --validators`,
    );
  }
  const verified = verifyTransactionProof({ chainId, tx: tx.encoded, proof: pr.json, validators });
  log(
    `inclusion proof verified: block ${verified.height} (${verified.blockHash}), position ${verified.index}`,
  );

  // Its outcome (ADR 0123): asked again until a certified header cites a state that holds the block's
  // receipts root (ADR 0125 makes that happen on a quiet chain too).
  const outcomes = [];
  const proveOutcome = async (t, what, expect, signer) => {
    const { proof, attempts } = await fetchOutcomeProof(node, hex(t.id), { seed: signer, chainId });
    const o = verifyTransactionOutcome({ chainId, tx: t.encoded, proof, validators });
    log(
      `${what}: outcome ${o.status}${o.code ? ` ${o.code}` : ''} proven (block ${o.height} position ${o.index}, receipts root in the state cited by block ${o.outcomeHeight}, ${attempts} request${attempts > 1 ? 's' : ''})`,
    );
    if (o.status !== expect.status || o.code !== expect.code) {
      throw new Error(
        `${what}: proven ${o.status} ${o.code ?? ''}, expected ${expect.status} ${expect.code ?? ''}`,
      );
    }
    outcomes.push({ id: hex(t.id), ...o });
    return proof;
  };
  await proveOutcome(tx, 'readings', { status: 'accepted' }, seed);

  // The device's own state record, sm/device/<key> (docs/state-machine.md, "Key layout"), proven against the
  // stateRoot of a certified header: a signed request by the device itself (docs/api.md).
  const stateKey = concat(utf8('sm/device/'), me);
  const spPath = `/v1/proofs/${hex(stateKey)}`;
  const sp = await http(node, 'GET', spPath, {
    headers: signRequest({ seed, chainId, method: 'GET', path: spPath }).headers,
  });
  if (sp.status !== 200 || sp.json.value === null)
    throw new Error(`state proof: ${sp.status} ${JSON.stringify(sp.json)}`);
  const record = decode(unhex(sp.json.value));
  if (!equalBytes(record[0], unhex(patient))) throw new Error('the device record names another patient');
  const st = verifyStateProof({ chainId, answer: sp.json, validators });
  log(
    `state proof of sm/device/<key> verified: bound to the patient, as of block ${sp.json.stateAsOf} (header ${st.height})`,
  );

  // A batch as one application/cbor-seq request (no ?wait there): poll each id, then check every proof,
  // so that audit paths in blocks of more than one transaction are exercised too.
  const batch = [];
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) {
    const body = readingsBody(unhex(patient), [
      { kind: 1, value: 75 + i, unit: '/min', measuredAt: t0 - 900 + i * 100 },
    ]);
    batch.push(
      signTransaction(
        { chainId, type: TX_TYPES.submitReadings, nonce: nonce + 1 + i, timestamp: t0, body },
        seed,
      ),
    );
  }
  const bs = await http(node, 'POST', '/v1/transactions', {
    body: concat(...batch.map((t) => t.encoded)),
    contentType: 'application/cbor-seq',
  });
  if (bs.status !== 202 || bs.json.results.some((r, i) => r.id !== hex(batch[i].id) || r.error)) {
    throw new Error(`batch: ${bs.status} ${JSON.stringify(bs.json)}`);
  }
  for (const t of batch) {
    const id = hex(t.id);
    for (let k = 0; ; k++) {
      const g = await http(node, 'GET', `/v1/transactions/${id}`);
      if (g.status === 200 && g.json.status !== 'pending') {
        if (g.json.status !== 'committed') throw new Error(`batch tx ${id}: ${JSON.stringify(g.json)}`);
        break;
      }
      if (k > 300) throw new Error(`batch tx ${id} not committed`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const p = await http(node, 'GET', `/v1/transactions/${id}/proof`);
    if (p.json.tx !== undefined) throw new Error('an unsigned proof request was served the readings');
    const v = verifyTransactionProof({ chainId, tx: t.encoded, proof: p.json, validators });
    log(
      `batch ${id.slice(0, 16)}…: block ${v.height}, position ${v.index} of ${decodeBlockHeader(unhex(p.json.header)).txCount}, verified`,
    );
  }
  const batchProofs = [];
  for (const t of batch) {
    batchProofs.push(await proveOutcome(t, `batch ${hex(t.id).slice(0, 16)}…`, { status: 'accepted' }));
  }
  // The receipts root again, from the block route's txIds and receipts (docs/api.md): the client's own
  // receipt encoding and MTH against what the proofs carry.
  for (const height of new Set(batchProofs.map((p) => p.height))) {
    const b = await http(node, 'GET', `/v1/blocks/${height}`);
    const encoded = b.json.receipts.map((r, i) =>
      encodeReceipt({
        status: r.status,
        code: r.code,
        txId: b.json.txIds[i] === null ? null : unhex(b.json.txIds[i]),
      }),
    );
    const want = batchProofs.find((p) => p.height === height).receiptsRoot;
    if (hex(receiptsRoot(encoded)) !== want) throw new Error(`block ${height}: receipts root differs`);
    log(
      `block ${height}: receipts root recomputed from its ${encoded.length} receipts (block route) matches`,
    );
  }
  nonce += batch.length;

  // A transaction that a block carries and the state machine rejects: a heart rate measured no later than
  // the device's last one (READING_NOT_INCREASING, docs/state-machine.md). Admission does not read bodies,
  // so it is committed into a block, consumes its nonce, and its receipt says rejected.
  nonce += 1;
  const stale0 = Date.now();
  const notIncreasing = signTransaction(
    {
      chainId,
      type: TX_TYPES.submitReadings,
      nonce,
      timestamp: stale0,
      body: readingsBody(unhex(patient), [{ kind: 1, value: 79, unit: '/min', measuredAt: t0 - 900 }]),
    },
    seed,
  );
  const nr = await submit(node, notIncreasing.encoded, { wait: true });
  log(`not increasing: ${nr.status} ${JSON.stringify(nr.json)}`);
  if (nr.status !== 200 || nr.json.status !== 'rejected' || nr.json.code !== 'READING_NOT_INCREASING') {
    throw new Error(`expected a rejected READING_NOT_INCREASING: ${nr.status} ${JSON.stringify(nr.json)}`);
  }
  const rejectedProof = await proveOutcome(
    notIncreasing,
    'not increasing',
    { status: 'rejected', code: 'READING_NOT_INCREASING' },
    seed,
  );

  // A Byzantine node's forgeries of "accepted" for it: the receipt alone (its path no longer leads to the
  // receipts root), and the receipt with the root recomputed along the same path (the root is then not
  // the one in the certified state).
  const forgedReceipt = encodeReceipt({ status: 'accepted', txId: notIncreasing.id });
  const header = decodeBlockHeader(unhex(rejectedProof.header), chainId);
  const forgedRoot = inclusionRoot(
    leafHash(forgedReceipt),
    rejectedProof.index,
    header.txCount,
    rejectedProof.receiptProof.map(unhex),
  );
  const forgeries = [
    { case: 'forged accepted receipt', proof: { ...rejectedProof, receipt: hex(forgedReceipt) } },
    {
      case: 'forged accepted receipt and receipts root',
      proof: { ...rejectedProof, receipt: hex(forgedReceipt), receiptsRoot: hex(forgedRoot) },
    },
  ];
  const forged = [];
  for (const f of forgeries) {
    let refused;
    try {
      verifyTransactionOutcome({ chainId, tx: notIncreasing.encoded, proof: f.proof, validators });
      refused = 'ACCEPTED';
    } catch (e) {
      refused = e.message;
    }
    log(`${f.case}: ${refused}`);
    forged.push({ case: f.case, refused });
    if (refused === 'ACCEPTED') throw new Error(`${f.case} verified`);
  }

  // Bad transactions: another chain, and a nonce that is already committed.
  const bad = [];
  const later = Date.now();
  const wrongChain = signTransaction(
    {
      chainId: `${chainId}-other`.slice(0, 64),
      type: 50,
      nonce: nonce + 1,
      timestamp: later,
      body: readingsBody(unhex(patient), [{ kind: 1, value: 80, unit: '/min', measuredAt: later - 500 }]),
    },
    seed,
  );
  const r1 = await submit(node, wrongChain.encoded);
  log(`wrong chain id: ${r1.status} ${r1.json.code}`);
  bad.push({ case: 'wrong chain', status: r1.status, code: r1.json.code, expected: 'WRONG_CHAIN' });
  const stale = signTransaction(
    {
      chainId,
      type: 50,
      nonce,
      timestamp: later,
      body: readingsBody(unhex(patient), [{ kind: 1, value: 81, unit: '/min', measuredAt: later - 400 }]),
    },
    seed,
  );
  const r2 = await submit(node, stale.encoded);
  log(`stale nonce: ${r2.status} ${r2.json.code}`);
  bad.push({ case: 'stale nonce', status: r2.status, code: r2.json.code, expected: 'NONCE_TOO_LOW' });
  return {
    chainId,
    id: hex(tx.id),
    verified,
    batch: batch.map((t) => hex(t.id)),
    outcomes: outcomes.map(({ id, status, code, height, index, outcomeHeight }) => ({
      id,
      status,
      ...(code ? { code } : {}),
      height,
      index,
      outcomeHeight,
    })),
    forged,
    bad,
  };
}

// ---------------------------------------------------------------------------------------------------
// Command line

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--'))
      out[argv[i].slice(2)] = argv[i + 1]?.startsWith('--') === false ? argv[++i] : true;
  }
  return out;
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (cmd === 'vectors') {
    const results = runVectors(rest[0]);
    for (const r of results)
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`);
    const failed = results.filter((r) => !r.ok).length;
    console.log(`${results.length - failed}/${results.length} vector checks passed`);
    return failed === 0 ? 0 : 1;
  }
  if (cmd === 'keygen') {
    const seed = randomBytes(32);
    console.log(JSON.stringify({ seed: hex(seed), publicKey: hex(publicKeyOf(seed)) }));
    return 0;
  }
  if (cmd === 'device-flow') {
    const a = args(rest);
    if (typeof a.node !== 'string' || typeof a.seed !== 'string' || typeof a.patient !== 'string') {
      console.error('usage: device-flow --node URL --seed HEX --patient HEX [--validators HEX,HEX,...]');
      return 2;
    }
    const validators = typeof a.validators === 'string' ? a.validators.split(',').map(unhex) : undefined;
    const r = await deviceFlow({ node: a.node, seed: unhex(a.seed), patient: a.patient, validators });
    const wrong = r.bad.filter((b) => b.code !== b.expected);
    console.log(JSON.stringify(r));
    return wrong.length === 0 ? 0 : 1;
  }
  console.error(
    'usage: minimal-client.mjs vectors [FILE] | keygen | device-flow --node URL --seed HEX --patient HEX',
  );
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e.message);
      process.exitCode = 1;
    },
  );
}
