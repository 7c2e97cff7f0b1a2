// Builds the published wire test vectors (docs/vectors/wire-v1.json, explained in docs/protocol.md §11).
// Pure and deterministic: fixed seeds, deterministic Ed25519 (RFC 8032), no clock. vectors.gen.ts prints
// the result; vectors.test.ts checks the committed file equals a fresh build AND decodes/verifies it.
import { type Block, blockHash, encodeBlock, encodeBlockHeader, makeBlock, ZERO_HASH } from './block.ts';
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import { type CommitCertificate, commitVoteSignBytes, encodeCommitCertificate } from './certificate.ts';
import {
  honestSignature,
  mixedOrderKeyCase,
  RFC8032_VECTORS,
  smallOrderKeyCase,
  smallOrderRCase,
  sPlusL,
  testKey,
  withR,
} from './ed25519-testkit.ts';
import { signerFromSeed } from './ed25519.ts';
import { sha256, toHex } from './hash.ts';
import { merkleInclusionProof, merkleLeafHash, merkleRoot } from './merkle.ts';
import { SigningDomain, signingPayload } from './signing.ts';
// The receipts encoding and its state key are protocol (ADR 0123) but live with the proofs; the vectors
// file is where an independent client finds them, so the generator reaches into proof/ for them.
import { encodeReceiptBytes, encodeReceiptsRootValue, receiptsRootKey } from '../proof/receipts.ts';
import { keyHashOf, leafHash as stateLeafHash, valueHashOf } from '../proof/smt.ts';
import {
  encodeTransaction,
  signTransaction,
  type Transaction,
  transactionId,
  transactionSigningBytes,
  type UnsignedTransaction,
} from './transaction.ts';
import { TxType } from './tx-types.ts';

export const VECTOR_CHAIN_ID = 'vigil-demo';

/** seed(b) = the 32 bytes b, b+1, ..., b+31 (mod 256). The device key uses b = 0x01: 01 02 .. 20. */
export function vectorSeed(first: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (first + i) & 0xff);
}

/** A JSON rendering of a CborValue: bytes as {"hex": ...}, bigints as {"bigint": "..."}. */
export type JsonCbor = number | string | boolean | null | { hex: string } | { bigint: string } | JsonCbor[];

export function toJsonCbor(v: CborValue): JsonCbor {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (Array.isArray(v)) return v.map(toJsonCbor);
  return v;
}

function txVector(name: string, tx: Transaction) {
  const unsignedCbor = encodeCanonical([
    tx.version,
    tx.chainId,
    tx.type,
    tx.sender,
    tx.nonce,
    tx.timestamp,
    tx.body,
  ]);
  return {
    name,
    fields: {
      version: tx.version,
      chainId: tx.chainId,
      type: tx.type,
      sender: toHex(tx.sender),
      nonce: tx.nonce,
      timestamp: tx.timestamp,
      body: toJsonCbor(tx.body),
    },
    unsignedCbor: toHex(unsignedCbor),
    signingPayload: toHex(transactionSigningBytes(tx)),
    txId: toHex(transactionId(tx)),
    signature: toHex(tx.signature),
    encoded: toHex(encodeTransaction(tx)),
  };
}

function mutate(bytes: Uint8Array, f: (b: Uint8Array) => Uint8Array): string {
  return toHex(f(Uint8Array.from(bytes)));
}

export function buildWireVectors() {
  const device = signerFromSeed(vectorSeed(0x01));
  const patient = signerFromSeed(vectorSeed(0x21));
  const validators = [0, 1, 2, 3].map((i) => signerFromSeed(vectorSeed(0x41 + 0x20 * i)));
  const chainId = VECTOR_CHAIN_ID;
  const t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z in ms

  const readings: UnsignedTransaction = {
    version: 1,
    chainId,
    type: TxType.submitReadings,
    sender: device.publicKey,
    nonce: 1,
    timestamp: t0 + 5_000,
    body: [
      patient.publicKey,
      [
        [1, 72, '/min', t0],
        [1, 74, '/min', t0 + 1_000],
      ],
    ],
  };
  const tx1 = signTransaction(readings, device);
  const tx2 = signTransaction(
    {
      ...readings,
      nonce: 2,
      timestamp: t0 + 65_000,
      body: [patient.publicKey, [[1, 118, '/min', t0 + 60_000]]],
    },
    device,
  );
  const txs = [encodeTransaction(tx1), encodeTransaction(tx2)];

  const block: Block = makeBlock(
    {
      version: 1,
      chainId,
      height: 1,
      view: 0,
      prevHash: ZERO_HASH,
      stateRoot: sha256(new TextEncoder().encode('vigil genesis state (example)')),
      stateHeight: 0,
      proposer: 0,
      timestamp: t0 + 66_000,
    },
    txs,
  );
  const hash = blockHash(block.header);
  const voters = [0, 1, 2];

  // docs/protocol.md §12.5: block 1's receipts if tx1 were accepted and tx2 rejected.
  const receiptList = [
    { status: 'accepted' as const, txId: transactionId(tx1) },
    { status: 'rejected' as const, code: 'READING_NOT_INCREASING', txId: transactionId(tx2) },
  ];
  const receiptBytes = receiptList.map(encodeReceiptBytes);
  const receiptsRoot = merkleRoot(receiptBytes);
  const entryKey = receiptsRootKey(block.header.height);
  const entryValue = encodeReceiptsRootValue(receiptsRoot);
  const receipts = {
    height: block.header.height,
    receipts: receiptList.map((r, i) => ({
      status: r.status,
      ...('code' in r ? { code: r.code } : {}),
      txId: toHex(r.txId),
      encoded: toHex(receiptBytes[i]!),
    })),
    undecodable: {
      status: 'rejected',
      code: 'MALFORMED',
      txId: null,
      encoded: toHex(encodeReceiptBytes({ status: 'rejected', code: 'MALFORMED', txId: null })),
    },
    leafHashes: receiptBytes.map((r) => toHex(merkleLeafHash(r))),
    root: toHex(receiptsRoot),
    proofs: receiptBytes.map((_, i) => merkleInclusionProof(receiptBytes, i).map(toHex)),
    stateEntry: {
      key: toHex(entryKey),
      value: toHex(entryValue),
      keyHash: toHex(keyHashOf(entryKey)),
      valueHash: toHex(valueHashOf(entryValue)),
      leafHash: toHex(stateLeafHash(keyHashOf(entryKey), valueHashOf(entryValue))),
    },
    keys: [1, 256, 2 ** 32 + 5].map((height) => ({ height, key: toHex(receiptsRootKey(height)) })),
  };
  const votes = voters.map((validator) => {
    const signBytes = commitVoteSignBytes(chainId, { view: 0, height: 1, blockHash: hash, validator });
    return { validator, signBytes, signature: validators[validator]!.sign(signBytes) };
  });
  const cert: CommitCertificate = {
    height: 1,
    view: 0,
    blockHash: hash,
    votes: votes.map((v) => ({ validator: v.validator, signature: v.signature })),
  };
  const certBytes = encodeCommitCertificate(cert);
  const tx1Bytes = txs[0]!;
  const headerBytes = encodeBlockHeader(block.header);

  const malformed = [
    { name: 'empty input', decoder: 'transaction', hex: '', error: 'MALFORMED' },
    {
      name: 'truncated transaction',
      decoder: 'transaction',
      hex: toHex(tx1Bytes.subarray(0, tx1Bytes.length - 1)),
      error: 'MALFORMED',
    },
    { name: 'trailing byte', decoder: 'transaction', hex: toHex(tx1Bytes) + '00', error: 'TRAILING_BYTES' },
    {
      name: 'non-minimal nonce (0x1801 instead of 0x01)',
      decoder: 'transaction',
      hex: nonMinimalNonce(tx1Bytes),
      error: 'NON_CANONICAL',
    },
    {
      name: 'indefinite-length outer array',
      decoder: 'transaction',
      hex: '9f' + toHex(tx1Bytes.subarray(1)) + 'ff',
      error: 'NON_CANONICAL',
    },
    { name: 'a map instead of an array', decoder: 'transaction', hex: 'a0', error: 'UNSUPPORTED_TYPE' },
    { name: 'float timestamp', decoder: 'cbor', hex: 'fb41d9a5c1a8000000', error: 'UNSUPPORTED_TYPE' },
    { name: 'tag', decoder: 'cbor', hex: 'c11a5f5e1000', error: 'UNSUPPORTED_TYPE' },
    { name: 'arrays nested 17 deep', decoder: 'cbor', hex: '81'.repeat(16) + '80', error: 'TOO_DEEP' },
    {
      name: 'version 2',
      decoder: 'transaction',
      hex: mutate(tx1Bytes, (b) => {
        b[1] = 0x02; // the version field (the first element after the 0x88 array head)
        return b;
      }),
      error: 'UNSUPPORTED_VERSION',
    },
    {
      name: 'unknown transaction type 99',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 2, 99)),
      error: 'UNKNOWN_TX_TYPE',
    },
    {
      name: 'sender of 31 bytes',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 3, device.publicKey.subarray(1))),
      error: 'WRONG_TYPE',
    },
    {
      name: 'signature of 63 bytes',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 7, tx1.signature.subarray(1))),
      error: 'WRONG_TYPE',
    },
    {
      name: 'seven fields',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 7, undefined)),
      error: 'WRONG_TYPE',
    },
    {
      name: 'body is not an array',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 6, 0)),
      error: 'WRONG_TYPE',
    },
    {
      name: 'chain id of another chain',
      decoder: 'transaction',
      hex: toHex(reencodeTx(tx1, 1, 'vigil-other')),
      error: 'WRONG_CHAIN',
    },
    {
      name: 'block header: stateHeight = height',
      decoder: 'blockHeader',
      hex: toHex(reencodeHeader(headerBytes, 8, 1)),
      error: 'INCONSISTENT',
    },
    {
      name: 'block header: height 0',
      decoder: 'blockHeader',
      hex: toHex(reencodeHeader(headerBytes, 2, 0)),
      error: 'WRONG_TYPE',
    },
    {
      name: 'block: txRoot does not match',
      decoder: 'block',
      hex: toHex(encodeCanonicalBlockWith(block, 5, new Uint8Array(32))),
      error: 'INCONSISTENT',
    },
    {
      name: 'certificate: votes not sorted',
      decoder: 'certificate',
      hex: toHex(
        encodeCanonical([1, 1, 0, hash, [...votes].reverse().map((v) => [v.validator, v.signature])]),
      ),
      error: 'INCONSISTENT',
    },
    {
      name: 'certificate: duplicate vote',
      decoder: 'certificate',
      hex: toHex(
        encodeCanonical([
          1,
          1,
          0,
          hash,
          [
            [0, votes[0]!.signature],
            [0, votes[0]!.signature],
          ],
        ]),
      ),
      error: 'CERT_DUPLICATE_VOTE',
    },
  ];

  // Signature acceptance-rule vectors (docs/protocol.md §5): every verifier must give exactly `valid`.
  const sk = testKey(vectorSeed(0x01));
  const msg = new TextEncoder().encode('vigil acceptance rule');
  const good = honestSignature(sk, msg);
  const mixedAccept = firstMixed(sk, true);
  const mixedReject = firstMixed(sk, false);
  const smallR = smallOrderRCase(sk, 0, 0);
  const smallA = smallOrderKeyCase(1, 1234567n, 0);
  const sig = (
    name: string,
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
    valid: boolean,
  ) => ({
    name,
    publicKey: toHex(publicKey),
    message: toHex(message),
    signature: toHex(signature),
    valid,
  });
  const signatures = [
    ...RFC8032_VECTORS.map((v) => ({
      name: `RFC 8032 ${v.name}`,
      publicKey: v.publicKey,
      message: v.message,
      signature: v.signature,
      valid: true,
    })),
    sig('honest signature', sk.publicKey, msg, good, true),
    sig('S + L (malleated scalar)', sk.publicKey, msg, sPlusL(good), false),
    sig(
      'non-canonical public key (y = p + 1, the identity)',
      leHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      msg,
      good,
      false,
    ),
    sig(
      'non-canonical R (y = p + 1)',
      sk.publicKey,
      msg,
      withR(good, leHex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')),
      false,
    ),
    sig(
      'small-order public key satisfying the equation',
      smallA.publicKey,
      smallA.message,
      smallA.signature,
      false,
    ),
    sig(
      'small-order R (identity) satisfying the equation',
      smallR.publicKey,
      smallR.message,
      smallR.signature,
      false,
    ),
    sig(
      'mixed-order public key, cofactorless equation holds',
      mixedAccept.publicKey,
      mixedAccept.message,
      mixedAccept.signature,
      true,
    ),
    sig(
      'mixed-order public key, cofactorless equation fails',
      mixedReject.publicKey,
      mixedReject.message,
      mixedReject.signature,
      false,
    ),
  ];

  return {
    description:
      'Vigil wire format v1 test vectors. Generated by consensus/src/wire/vectors.gen.ts; specified in docs/protocol.md. ' +
      'Byte strings are lowercase hex; in "body", {"hex": ...} is a CBOR byte string.',
    chainId,
    keys: {
      device: { seed: toHex(vectorSeed(0x01)), publicKey: toHex(device.publicKey) },
      patient: { seed: toHex(vectorSeed(0x21)), publicKey: toHex(patient.publicKey) },
      validators: validators.map((v, i) => ({
        index: i,
        seed: toHex(vectorSeed(0x41 + 0x20 * i)),
        publicKey: toHex(v.publicKey),
      })),
    },
    signingPayloadExample: {
      domain: SigningDomain.tx,
      chainId,
      payload: '0102',
      bytes: toHex(signingPayload(SigningDomain.tx, chainId, Uint8Array.of(1, 2))),
    },
    transactions: [txVector('submitReadings #1', tx1), txVector('submitReadings #2', tx2)],
    merkle: {
      leaves: txs.map(toHex),
      leafHashes: txs.map((x) => toHex(merkleLeafHash(x))),
      root: toHex(merkleRoot(txs)),
      proofs: txs.map((_, i) => merkleInclusionProof(txs, i).map(toHex)),
      emptyRoot: toHex(merkleRoot([])),
    },
    receipts,
    blockHeader: {
      fields: {
        version: block.header.version,
        chainId,
        height: block.header.height,
        view: block.header.view,
        prevHash: toHex(block.header.prevHash),
        txRoot: toHex(block.header.txRoot),
        txCount: block.header.txCount,
        stateRoot: toHex(block.header.stateRoot),
        stateHeight: block.header.stateHeight,
        proposer: block.header.proposer,
        timestamp: block.header.timestamp,
      },
      encoded: toHex(headerBytes),
      hash: toHex(hash),
    },
    block: { encoded: toHex(encodeBlock(block)) },
    commitVotes: votes.map((v) => ({
      validator: v.validator,
      view: 0,
      height: 1,
      signBytes: toHex(v.signBytes),
      signature: toHex(v.signature),
    })),
    commitCertificate: { encoded: toHex(certBytes), validatorCount: validators.length, quorum: 3 },
    malformed,
    signatures,
  };

  function reencodeTx(tx: Transaction, index: number, value: CborValue | undefined): Uint8Array {
    const arr: CborValue[] = [
      tx.version,
      tx.chainId,
      tx.type,
      tx.sender,
      tx.nonce,
      tx.timestamp,
      tx.body,
      tx.signature,
    ];
    if (value === undefined) arr.splice(index, 1);
    else arr[index] = value;
    return encodeCanonical(arr);
  }
}

/** The header with one field replaced, re-encoded canonically (so only that field is wrong). */
function reencodeHeader(headerBytes: Uint8Array, index: number, value: CborValue): Uint8Array {
  const arr = decodeCanonical(headerBytes) as CborValue[];
  arr[index] = value;
  return encodeCanonical(arr);
}

function encodeCanonicalBlockWith(block: Block, headerIndex: number, value: CborValue): Uint8Array {
  const arr = decodeCanonical(encodeBlockHeader(block.header)) as CborValue[];
  arr[headerIndex] = value;
  return encodeCanonical([arr, block.txs]);
}

/** The transaction bytes with the nonce (value 1, encoded 0x01) re-encoded non-minimally as 0x18 0x01. */
function nonMinimalNonce(tx: Uint8Array): string {
  const hex = toHex(tx);
  // The nonce follows the 32-byte sender (5820 + 64 hex chars).
  const senderAt = hex.indexOf('5820');
  const nonceAt = senderAt + 4 + 64;
  if (hex.slice(nonceAt, nonceAt + 2) !== '01') throw new Error('vector construction: nonce not found');
  return hex.slice(0, nonceAt) + '1801' + hex.slice(nonceAt + 2);
}

function leHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
}

function firstMixed(key: ReturnType<typeof testKey>, accept: boolean) {
  for (let i = 0; ; i++) {
    const c = mixedOrderKeyCase(key, 1, Uint8Array.of(i), BigInt(1000 + i));
    if (c.expected === accept) return c;
  }
}
