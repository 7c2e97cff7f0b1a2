// Test helpers for compact PRE-PREPAREs (imported only by *.test.ts): real PRE-PREPAREs signed by a
// validator key through the PBFT core's own message encoder, and a way to craft variants of a compact
// message for the hostile-input tests.
import {
  blockBytesOf,
  type Commit,
  createMessage,
  MessageType,
  type PrePrepare,
} from '@vigil/consensus/pbft';
import {
  blockHash,
  type CborValue,
  decodeCanonical,
  encodeCanonical,
  makeBlock,
  type Signer,
  signerFromSeed,
} from '@vigil/consensus/wire';

export const CHAIN = 'vigil-compact-test';

export function testSigner(i = 0): Signer {
  const seed = new Uint8Array(32);
  seed[0] = 0xc0;
  seed[1] = i;
  return signerFromSeed(seed);
}

/** Deterministic transaction-like bytes (the compact encoding never decodes transactions). */
export function fakeTx(i: number, length = 200 + (i % 97)): Uint8Array {
  const b = new Uint8Array(length);
  for (let k = 0; k < length; k++) b[k] = (i * 31 + k * 7 + (i >> 8)) & 0xff;
  if (length >= 4) new DataView(b.buffer).setUint32(0, i);
  return b;
}

/** A PRE-PREPARE for `txs` as the core encodes it (createMessage), signed by `signer`. */
export function prePrepare(
  txs: Uint8Array[],
  o: { view?: number; height?: number; signer?: Signer; replica?: number } = {},
): Uint8Array {
  const view = o.view ?? 0;
  const height = o.height ?? 1;
  const block = makeBlock(
    {
      version: 1,
      chainId: CHAIN,
      height,
      view,
      prevHash: new Uint8Array(32).fill(height === 1 ? 0 : 7),
      stateRoot: new Uint8Array(32).fill(3),
      stateHeight: height - 1,
      proposer: o.replica ?? 0,
      timestamp: 1_760_000_000_000 + height,
    },
    txs,
  );
  return createMessage<PrePrepare>(CHAIN, o.signer ?? testSigner(o.replica ?? 0), {
    type: MessageType.prePrepare,
    view,
    height,
    blockHash: blockHash(block.header),
    replica: o.replica ?? 0,
    block,
    blockBytes: blockBytesOf(block),
  }).bytes;
}

/** A COMMIT (not a PRE-PREPARE: never compacted). */
export function commit(signer = testSigner(1)): Uint8Array {
  return createMessage<Commit>(CHAIN, signer, {
    type: MessageType.commit,
    view: 0,
    height: 1,
    blockHash: new Uint8Array(32).fill(9),
    replica: 1,
  }).bytes;
}

/** The fields of a compact message, to alter and re-encode with `craft`. */
export function fieldsOf(compact: Uint8Array): CborValue[] {
  return decodeCanonical(compact) as CborValue[];
}

/** A compact message from (possibly hostile) fields. */
export function craft(fields: CborValue): Uint8Array {
  return encodeCanonical(fields);
}
