// Fuzz targets for every byte decoder below the HTTP layer: the wire format (canonical CBOR,
// transactions, blocks, headers, commit certificates, transaction bodies), state proofs, PBFT
// messages (the decoder and a whole replica), p2p frames, sync/status codecs and the compact
// PRE-PREPARE and txfetch codecs (ADR 0129), and the records the
// node reads back from disk (state-tree nodes, receipts). Each says which typed errors it may raise.
import {
  checkpoint,
  commit,
  makeTestBlock,
  newView,
  prePrepare,
  prepare,
  preparedProof,
  testGroup,
  tx as testTx,
  viewChange,
} from '@vigil/consensus/pbft/testkit.ts';
import { decodeMessage, messageLimits, PbftDecodeError, Replica } from '@vigil/consensus/pbft';
import { decodeStateProof, encodeStateProof, ProofError } from '@vigil/consensus/proof';
import {
  type Block,
  type CborValue,
  decodeBlock,
  decodeBlockHeader,
  decodeCanonical,
  decodeCommitCertificate,
  decodeTransaction,
  encodeBlock,
  encodeBlockHeader,
  encodeCanonical,
  encodeCommitCertificate,
  encodeTransaction,
  merkleRoot,
  sha256,
  signerFromSeed,
  signTransaction,
  TxType,
  WireError,
} from '@vigil/consensus/wire';
import { BodyError, decodeBody, encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import {
  CompactError,
  compactPrePrepare,
  decodeBatchBody,
  decodeBlockRangeRequest,
  decodeCompactPrePrepare,
  decodeNodeStatus,
  decodeTxFetchRequest,
  decodeTxFetchResponse,
  encodeBlockRangeRequest,
  encodeFrame,
  encodeNodeStatus,
  encodeTxFetchRequest,
  encodeTxFetchResponse,
  FrameDecoder,
  FrameError,
  P2PError,
  type TxFetchRequest,
} from '@vigil/p2p';
import fc from 'fast-check';
import { decodeTreeNode, encodeTreeNode } from '../../state-tree/node-codec.ts';
import { StateTreeError } from '../../state-tree/errors.ts';
import { StoreError } from '../../store/errors.ts';
import { decodeReceipt, encodeReceipt } from '../../store/records.ts';
import { ACCEPTED, type AnyFuzzTarget, erase, FuzzFinding, type FuzzTarget, typed } from './harness.ts';
import { cborValue, hostileBytes } from './inputs.ts';

const CHAIN = 'vigil-fuzz';
const k = (n: number) => new Uint8Array(32).fill(n);
const signer = signerFromSeed(sha256(new TextEncoder().encode('fuzz-signer')));

// ---- seeds: one or more valid encodings per structure --------------------------------------------

const bodies: TxBody[] = [
  { type: 1, proposal: { action: 1, orgId: 'st-mary', name: "St Mary's", admins: [k(1), k(2)] } },
  { type: 1, proposal: { action: 4, name: 'governanceTtlMs', value: 86_400_000 } },
  { type: 10, publicKey: k(5), licenceId: 'GMC-1234567' },
  { type: 20, patient: k(6) },
  { type: 30, device: k(8), patient: k(6), validFrom: 1, validUntil: 2 },
  { type: 31, device: k(8), newKey: k(9), overlapMs: 60_000 },
  {
    type: 40,
    patient: k(6),
    grantee: { kind: 1, key: k(5) },
    scopes: ['vitals.*', 'alerts'],
    purpose: 1,
    expiresAt: 10,
  },
  { type: 42, patient: k(6), reasonCode: 'ETREAT', reason: 'unconscious on arrival', durationMs: 3_600_000 },
  { type: 50, patient: k(6), readings: [{ kind: 1, value: 72, unit: '/min', measuredAt: 5 }] },
  { type: 52, reader: k(5), patient: k(6), categories: ['vitals.heartRate'], purpose: 1, readAt: 7 },
  { type: 60, patient: k(6), thresholds: [{ kind: 1, low: 50, high: 120 }], spo2Scale2: true },
  { type: 61, patient: k(6), alertSeq: 1 },
];

const txs = bodies.map((body, i) =>
  encodeTransaction(
    signTransaction(
      {
        version: 1,
        chainId: CHAIN,
        type: body.type,
        sender: signer.publicKey,
        nonce: i + 1,
        timestamp: 1_700_000_000_000 + i,
        body: encodeBody(body),
      },
      signer,
    ),
  ),
);

function block(height: number, txList: Uint8Array[]): Block {
  return {
    header: {
      version: 1,
      chainId: CHAIN,
      height,
      view: 0,
      prevHash: height === 1 ? new Uint8Array(32) : k(1),
      txRoot: merkleRoot(txList),
      txCount: txList.length,
      stateRoot: k(2),
      stateHeight: height - 1,
      proposer: 0,
      timestamp: 1_700_000_000_000,
    },
    txs: txList,
  };
}
const blocks = [block(1, []), block(2, txs.slice(0, 3)), block(7, txs)];
const certificates = [
  encodeCommitCertificate({
    height: 2,
    view: 0,
    blockHash: k(3),
    votes: [0, 1, 2].map((validator) => ({ validator, signature: new Uint8Array(64).fill(validator) })),
  }),
];

const g = testGroup(4);
const b1 = makeTestBlock(4, 0, 1, undefined, [testTx(1), testTx(2)]);
const vc = viewChange(g, 2, 1, [preparedProof(g, 0, b1)]);
const pbftSeeds = [
  prePrepare(g, 0, 0, b1).bytes,
  prepare(g, 2, 0, 1, b1.hash).bytes,
  commit(g, 3, 0, 1, b1.hash).bytes,
  checkpoint(g, 2, 4, b1.hash, b1.hash, 5).bytes,
  vc.bytes,
  newView(g, 1, 1, [vc.bytes, viewChange(g, 3, 1, []).bytes, viewChange(g, 0, 1, []).bytes], []).bytes,
  encodeCanonical([7, 1, 2, 3, new Uint8Array(64)]),
];
const pbftLimits = messageLimits({
  validators: g.validators,
  windowSize: 24,
  maxBlockTxs: 64,
  maxBlockBytes: 1 << 20,
});

const FRAME_LIMITS = { maxFrameBytes: 64 * 1024, maxMessagesPerFrame: 256 };

// The compact form of the seed PRE-PREPARE, and the txfetch exchange about its block.
const compactSeed = compactPrePrepare(pbftSeeds[0]!)!;
const compactIds = decodeCompactPrePrepare(compactSeed.bytes).ids;
const fetchRequest: TxFetchRequest = { kind: 0, blockHash: compactSeed.blockHash, positions: [1] };

// ---- targets ---------------------------------------------------------------------------------------

function bytesTarget(
  name: string,
  seeds: readonly Uint8Array[],
  decode: (b: Uint8Array) => unknown,
  allowed: (abstract new (...a: never[]) => Error)[],
  ciElsewhere?: string,
): FuzzTarget<Uint8Array> {
  return {
    name,
    ...(ciElsewhere ? { ciElsewhere } : {}),
    arbitrary: hostileBytes(seeds),
    run: (input) => typed(() => decode(input), ...allowed),
  };
}

/** A replica of a 4-validator group that lives across cases: state must stay bounded, no throw. */
function replicaTarget(): FuzzTarget<[number, Uint8Array]> {
  let replica = Replica.create(g.config(1), g.deps(1));
  let cases = 0;
  return {
    name: 'pbft/Replica.step',
    arbitrary: fc.tuple(fc.integer({ min: -1, max: 5 }), hostileBytes(pbftSeeds)),
    run: ([from, message]) => {
      // A fresh replica now and then, so early-view paths are exercised throughout a long run.
      if (++cases % 5_000 === 0) replica = Replica.create(g.config(1), g.deps(1));
      const before = replica.stats().dropped;
      replica.step({ type: 'receive', from, message });
      const stats = replica.stats();
      const s = stats.sizes;
      if (
        s.futureBuffered > 4 * 3 * 24 ||
        s.slots > 64 ||
        s.viewChangeMessages > 8 ||
        s.heldPrePrepares > 24
      ) {
        throw new FuzzFinding(`replica state grew: ${JSON.stringify(s)}`);
      }
      // The outcome is the drop reason the message was counted under, if any.
      for (const [reason, n] of Object.entries(stats.dropped)) if (n !== (before[reason] ?? 0)) return reason;
      return ACCEPTED;
    },
  };
}

/** A frame decoder fed the input split into arbitrary chunks; it reports errors, it never throws. */
function frameDecoderTarget(): FuzzTarget<[Uint8Array, number[]]> {
  const frames = [
    encodeFrame([pbftSeeds[1]!]),
    encodeFrame(pbftSeeds),
    encodeFrame([new Uint8Array(0)]),
    Uint8Array.from([...encodeFrame([txs[0]!]), ...encodeFrame([txs[1]!, txs[2]!])]),
  ];
  return {
    name: 'p2p/FrameDecoder.push',
    ciElsewhere: 'p2p/src/frame.test.ts',
    arbitrary: fc.tuple(
      hostileBytes(frames, 512),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
    ),
    run: ([bytes, cuts]) => {
      const d = new FrameDecoder(FRAME_LIMITS);
      let at = 0;
      let error: FrameError | undefined;
      for (const c of [...cuts, bytes.length]) {
        const r = d.push(bytes.subarray(at, Math.min(bytes.length, at + c)));
        at = Math.min(bytes.length, at + c);
        if (r.error !== undefined) error = r.error;
        for (const b of r.batches)
          if (b.length > FRAME_LIMITS.maxMessagesPerFrame) throw new FuzzFinding('batch over the limit');
      }
      if (error !== undefined && !(error instanceof FrameError)) throw new FuzzFinding('untyped frame error');
      return error?.code ?? ACCEPTED;
    },
  };
}

function bodyTarget(): FuzzTarget<[number, CborValue]> {
  const seeds = bodies.map((b) => [b.type, encodeBody(b)] as const);
  const types = Object.values(TxType);
  const mutatedBody = fc
    .tuple(fc.nat(seeds.length - 1), fc.nat(), cborValue)
    .map(([i, at, v]): [number, CborValue] => {
      const [type, body] = seeds[i]!;
      const b = [...body];
      if (b.length > 0) b[at % b.length] = v;
      return [type, b];
    });
  return {
    name: 'wire/bodies/decodeBody',
    arbitrary: fc.oneof(
      fc.tuple(fc.oneof(fc.constantFrom(...types), fc.integer({ min: -1, max: 300 })), cborValue),
      mutatedBody,
    ),
    run: ([type, body]) => typed(() => decodeBody(type, body as CborValue[]), BodyError, WireError),
  };
}

/** All decoder targets (fresh instances: some keep state across cases). */
export function decoderTargets(): AnyFuzzTarget[] {
  const list = [
    bytesTarget(
      'wire/decodeCanonical',
      [...txs, ...certificates],
      (b) => decodeCanonical(b),
      [WireError],
      'consensus/src/wire/cbor.test.ts',
    ),
    bytesTarget(
      'wire/decodeTransaction',
      txs,
      (b) => decodeTransaction(b, { chainId: CHAIN }),
      [WireError],
      'consensus/src/wire/structures.test.ts',
    ),
    bytesTarget(
      'wire/decodeBlockHeader',
      blocks.map((b) => encodeBlockHeader(b.header)),
      decodeBlockHeader,
      [WireError],
      'consensus/src/wire/structures.test.ts',
    ),
    bytesTarget(
      'wire/decodeBlock',
      blocks.map(encodeBlock),
      decodeBlock,
      [WireError],
      'consensus/src/wire/structures.test.ts',
    ),
    bytesTarget(
      'wire/decodeCommitCertificate',
      certificates,
      decodeCommitCertificate,
      [WireError],
      'consensus/src/wire/structures.test.ts',
    ),
    bodyTarget(),
    bytesTarget(
      'proof/decodeStateProof',
      [
        encodeStateProof({ siblings: [k(1), k(2)], leaf: null }),
        encodeStateProof({ siblings: [k(3)], leaf: { keyHash: k(4), valueHash: k(5) } }),
      ],
      decodeStateProof,
      [ProofError],
      'consensus/src/proof/codec.test.ts',
    ),
    bytesTarget('pbft/decodeMessage', pbftSeeds, (b) => decodeMessage(b, pbftLimits), [PbftDecodeError]),
    replicaTarget(),
    frameDecoderTarget(),
    bytesTarget(
      'p2p/decodeBatchBody',
      [encodeFrame(pbftSeeds).subarray(4), encodeFrame([new Uint8Array(3)]).subarray(4)],
      (b) => decodeBatchBody(b, FRAME_LIMITS),
      [FrameError],
    ),
    bytesTarget(
      'p2p/decodeBlockRangeRequest',
      [encodeBlockRangeRequest({ fromHeight: 5, count: 10 })],
      (b) => decodeBlockRangeRequest(b, 256),
      [P2PError],
    ),
    bytesTarget(
      'p2p/decodeNodeStatus',
      [encodeNodeStatus({ height: 9, view: 1, checkpoint: { height: 8, digest: k(7) } })],
      decodeNodeStatus,
      [P2PError],
    ),
    bytesTarget('p2p/decodeCompactPrePrepare', [compactSeed.bytes], (b) => decodeCompactPrePrepare(b), [
      CompactError,
    ]),
    bytesTarget(
      'p2p/decodeTxFetchRequest',
      [encodeTxFetchRequest(fetchRequest), encodeTxFetchRequest({ kind: 1, blockHash: k(4) })],
      (b) => decodeTxFetchRequest(b),
      [CompactError],
    ),
    bytesTarget(
      'p2p/decodeTxFetchResponse',
      [
        encodeTxFetchResponse({ status: 0, txs: [compactSeed.txs[1]!] }),
        encodeTxFetchResponse({ status: 1 }),
      ],
      (b) => decodeTxFetchResponse(b, fetchRequest, compactIds, 1 << 20),
      [CompactError],
    ),
    bytesTarget(
      'store/decodeTreeNode',
      [
        encodeTreeNode({ kind: 'leaf', keyHash: k(1), valueHash: k(2), key: k(3), value: txs[0]! }),
        encodeTreeNode({ kind: 'internal', left: k(1), right: k(2), leftVersion: 3, rightVersion: 70_000 }),
      ],
      decodeTreeNode,
      [StateTreeError],
    ),
    bytesTarget(
      'store/decodeReceipt',
      [
        encodeReceipt({ status: 'accepted', txId: k(1) }),
        encodeReceipt({ status: 'rejected', code: 'BAD_NONCE', txId: null }),
      ],
      decodeReceipt,
      [StoreError],
    ),
  ];
  return list.map((t) => erase(t as FuzzTarget<unknown>));
}
