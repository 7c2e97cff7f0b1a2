// PBFT message formats, their sign bytes, and strict decoding (docs/consensus.md "Messages").
//
// Every message is canonical CBOR: [type, ...signedFields, signature, ...payload]. The signature is
// ed25519 over signingPayload('vigil/pbft/v1', chainId, encodeCanonical([type, ...signedFields])).
// The payload is data the signed fields commit to by hash (a PRE-PREPARE's block, as in the paper where
// the primary signs <PRE-PREPARE, v, n, d> and piggybacks the request, TOCS 2002 §4.2), so receivers
// always recompute the hash. Nested messages (checkpoint proofs, prepared certificates, view changes)
// travel as their own encoded bytes, so each keeps its own signature and can be forwarded unchanged.
//
// COMMIT's signed fields are exactly wire's CommitVote, so q COMMIT signatures form a CommitCertificate.

import {
  type Block,
  type CborValue,
  type CommitCertificate,
  decodeBlock,
  decodeCanonical,
  decodeCommitCertificate,
  encodeBlock,
  encodeCanonical,
  encodeCommitCertificate,
  SigningDomain,
  type Signer,
  signingPayload,
  type Verifier,
} from '../wire/index.ts';
import { PbftDecodeError } from './errors.ts';

export const MessageType = {
  prePrepare: 1,
  prepare: 2,
  commit: 3,
  checkpoint: 4,
  viewChange: 5,
  newView: 6,
  /** Ask peers for committed blocks from a height on (retransmission for small gaps). */
  fetch: 7,
  /** A committed block with its commit certificate, answering a FETCH. */
  blockReply: 8,
  /**
   * "My request timer expired in `view`": a backup's suspicion of the primary. It stays in the view;
   * f + 1 suspicions of the same view (its own included) start the view change (ADR 0112).
   */
  suspect: 9,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface PrePrepare {
  type: typeof MessageType.prePrepare;
  view: number;
  height: number;
  blockHash: Uint8Array;
  replica: number;
  signature: Uint8Array;
  /** Payload: the block and its exact encoding (blockHash is checked against block.header). */
  block: Block;
  blockBytes: Uint8Array;
}

export interface Prepare {
  type: typeof MessageType.prepare;
  view: number;
  height: number;
  blockHash: Uint8Array;
  replica: number;
  signature: Uint8Array;
}

export interface Commit {
  type: typeof MessageType.commit;
  view: number;
  height: number;
  blockHash: Uint8Array;
  replica: number;
  signature: Uint8Array;
}

export interface Checkpoint {
  type: typeof MessageType.checkpoint;
  height: number;
  /** Hash of the committed block at `height`: a replica that state-transfers here chains onto it. */
  blockHash: Uint8Array;
  /** State root after executing block `height`. */
  stateRoot: Uint8Array;
  /** Timestamp of the block at `height`: NEW-VIEW null blocks chain onto it (parent + 1). */
  timestamp: number;
  replica: number;
  signature: Uint8Array;
}

/** A prepared certificate (§4.4): a PRE-PREPARE and q-1 matching PREPAREs from other replicas. */
export interface PreparedProof {
  prePrepare: Uint8Array;
  prepares: Uint8Array[];
}

export interface ViewChange {
  type: typeof MessageType.viewChange;
  newView: number;
  /** The sender's last stable checkpoint: q encoded CHECKPOINT messages, or none for genesis (height 0). */
  checkpointProof: Uint8Array[];
  /** The P set: for each height above the checkpoint, the highest-view prepared certificate. */
  prepared: PreparedProof[];
  replica: number;
  signature: Uint8Array;
}

export interface NewView {
  type: typeof MessageType.newView;
  view: number;
  /** V: q encoded VIEW-CHANGE messages for `view` from distinct replicas. */
  viewChanges: Uint8Array[];
  /** O: encoded PRE-PREPAREs for `view`, one per height above the selected checkpoint, in order. */
  prePrepares: Uint8Array[];
  replica: number;
  signature: Uint8Array;
}

export interface Fetch {
  type: typeof MessageType.fetch;
  fromHeight: number;
  count: number;
  replica: number;
  signature: Uint8Array;
}

export interface BlockReply {
  type: typeof MessageType.blockReply;
  height: number;
  blockHash: Uint8Array;
  replica: number;
  signature: Uint8Array;
  block: Block;
  blockBytes: Uint8Array;
  certificate: CommitCertificate;
}

export interface Suspect {
  type: typeof MessageType.suspect;
  /** The view whose primary the sender suspects (its current view). */
  view: number;
  replica: number;
  signature: Uint8Array;
}

export type PbftMessage =
  | PrePrepare
  | Prepare
  | Commit
  | Checkpoint
  | ViewChange
  | NewView
  | Fetch
  | BlockReply
  | Suspect;

/** Most blocks a FETCH may ask for at once. */
export const MAX_FETCH_COUNT = 64;

/** Size bounds derived from the configuration; every decode checks them before trusting anything. */
export interface MessageLimits {
  n: number;
  windowSize: number;
  maxBlockTxs: number;
  /** Largest encoded block accepted. */
  maxBlockBytes: number;
  /**
   * The RFC 6962 root a block's txRoot is checked against (ReplicaDeps.txRoot): wire merkleRoot
   * (pure-JS SHA-256) when absent.
   */
  txRoot?: (txs: readonly Uint8Array[]) => Uint8Array;
}

const SMALL_MESSAGE_BYTES = 512;

export function messageLimits(cfg: {
  validators: readonly unknown[];
  windowSize: number;
  maxBlockTxs: number;
  maxBlockBytes: number;
}): MessageLimits {
  return {
    n: cfg.validators.length,
    windowSize: cfg.windowSize,
    maxBlockTxs: cfg.maxBlockTxs,
    // The txs themselves plus the header and CBOR framing (at most 9 bytes per byte-string head).
    maxBlockBytes: cfg.maxBlockBytes + 1024 + 9 * cfg.maxBlockTxs + 16,
  };
}

export function maxPrePrepareBytes(l: MessageLimits): number {
  return l.maxBlockBytes + SMALL_MESSAGE_BYTES;
}
export function maxPreparedProofBytes(l: MessageLimits): number {
  return maxPrePrepareBytes(l) + l.n * (SMALL_MESSAGE_BYTES + 16) + 16;
}
export function maxViewChangeBytes(l: MessageLimits): number {
  return (
    l.n * (SMALL_MESSAGE_BYTES + 16) + l.windowSize * (maxPreparedProofBytes(l) + 16) + SMALL_MESSAGE_BYTES
  );
}
export function maxNewViewBytes(l: MessageLimits): number {
  return (
    l.n * (maxViewChangeBytes(l) + 16) + l.windowSize * (maxPrePrepareBytes(l) + 16) + SMALL_MESSAGE_BYTES
  );
}
function maxBlockReplyBytes(l: MessageLimits): number {
  return l.maxBlockBytes + l.n * 96 + 2 * SMALL_MESSAGE_BYTES;
}
export function maxMessageBytes(l: MessageLimits, type?: number): number {
  switch (type) {
    case MessageType.prePrepare:
      return maxPrePrepareBytes(l);
    case MessageType.viewChange:
      return maxViewChangeBytes(l);
    case MessageType.blockReply:
      return maxBlockReplyBytes(l);
    case MessageType.prepare:
    case MessageType.commit:
    case MessageType.checkpoint:
    case MessageType.fetch:
    case MessageType.suspect:
      return SMALL_MESSAGE_BYTES;
    default:
      return maxNewViewBytes(l);
  }
}

// ---------------------------------------------------------------------------------------------------
// Sign bytes and encoding

type Unsigned<M> = M extends PbftMessage ? Omit<M, 'signature'> : never;

function signedFields(m: Unsigned<PbftMessage>): CborValue[] {
  switch (m.type) {
    case MessageType.prePrepare:
    case MessageType.prepare:
    case MessageType.commit:
      // COMMIT: [3, view, height, blockHash, validator] == wire's commitVoteSignBytes input.
      return [m.type, m.view, m.height, m.blockHash, m.replica];
    case MessageType.checkpoint:
      return [m.type, m.height, m.blockHash, m.stateRoot, m.timestamp, m.replica];
    case MessageType.viewChange:
      return [
        m.type,
        m.newView,
        m.checkpointProof,
        m.prepared.map((p): CborValue => [p.prePrepare, p.prepares]),
        m.replica,
      ];
    case MessageType.newView:
      return [m.type, m.view, m.viewChanges, m.prePrepares, m.replica];
    case MessageType.fetch:
      return [m.type, m.fromHeight, m.count, m.replica];
    case MessageType.blockReply:
      return [m.type, m.height, m.blockHash, m.replica];
    case MessageType.suspect:
      return [m.type, m.view, m.replica];
  }
}

function payload(m: Unsigned<PbftMessage>): CborValue[] {
  if (m.type === MessageType.prePrepare) return [m.blockBytes];
  if (m.type === MessageType.blockReply) return [m.blockBytes, encodeCommitCertificate(m.certificate)];
  return [];
}

/** The exact bytes a message's signature covers. */
export function messageSignBytes(chainId: string, m: Unsigned<PbftMessage>): Uint8Array {
  return signingPayload(SigningDomain.consensus, chainId, encodeCanonical(signedFields(m)));
}

export function signMessage<M extends PbftMessage>(chainId: string, signer: Signer, m: Unsigned<M>): M {
  const signature = signer.sign(messageSignBytes(chainId, m));
  return { ...m, signature } as unknown as M;
}

export function verifyMessageSignature(
  chainId: string,
  m: PbftMessage,
  verifier: Verifier,
  publicKey: Uint8Array,
): boolean {
  try {
    return verifier.verify(m.signature, messageSignBytes(chainId, m as Unsigned<PbftMessage>), publicKey);
  } catch {
    return false;
  }
}

export function encodeMessage(m: PbftMessage): Uint8Array {
  const { signature, ...rest } = m;
  const unsigned = rest as Unsigned<PbftMessage>;
  return encodeCanonical([...signedFields(unsigned), signature, ...payload(unsigned)]);
}

/** Builds, signs and encodes in one go; returns the decoded form and its bytes. */
export function createMessage<M extends PbftMessage>(
  chainId: string,
  signer: Signer,
  m: Unsigned<M>,
): { message: M; bytes: Uint8Array } {
  const message = signMessage<M>(chainId, signer, m);
  return { message, bytes: encodeMessage(message) };
}

// ---------------------------------------------------------------------------------------------------
// Strict decoding

function fail(code: string, why: string): never {
  throw new PbftDecodeError(code, why);
}

function uint(v: CborValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('WRONG_TYPE', `${what}: not a uint`);
  return v;
}

function replicaIndex(v: CborValue | undefined, l: MessageLimits): number {
  const r = uint(v, 'replica');
  if (r >= l.n) fail('NOT_MEMBER', `replica ${r} is not in the validator set of ${l.n}`);
  return r;
}

function bytes(v: CborValue | undefined, what: string, len?: number, max?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail('WRONG_TYPE', `${what}: not a byte string`);
  if (len !== undefined && v.length !== len) fail('WRONG_TYPE', `${what}: expected ${len} bytes`);
  if (max !== undefined && v.length > max) fail('TOO_LARGE', `${what}: more than ${max} bytes`);
  return v;
}

function array(v: CborValue | undefined, what: string, max: number): CborValue[] {
  if (!Array.isArray(v)) fail('WRONG_TYPE', `${what}: not an array`);
  if (v.length > max) fail('TOO_LARGE', `${what}: more than ${max} items`);
  return v;
}

function bytesList(v: CborValue | undefined, what: string, maxItems: number, maxEach: number): Uint8Array[] {
  return array(v, what, maxItems).map((x, i) => bytes(x, `${what}[${i}]`, undefined, maxEach));
}

function arity(a: CborValue[], n: number, what: string): void {
  if (a.length !== n) fail('WRONG_TYPE', `${what}: expected ${n} fields, got ${a.length}`);
}

function decodeBlockStrict(raw: Uint8Array, l: MessageLimits): Block {
  let block: Block;
  try {
    block = decodeBlock(raw, l.txRoot !== undefined ? { txRoot: l.txRoot } : {});
  } catch (e) {
    fail('BAD_BLOCK', `block does not decode: ${(e as Error).message}`);
  }
  if (block.txs.length > l.maxBlockTxs) fail('TOO_LARGE', 'block has too many transactions');
  return block;
}

/**
 * Decodes one consensus message under the size limits. Structural only: signatures, membership of the
 * sender for the message's role, views and heights are checked by the replica.
 */
export function decodeMessage(raw: Uint8Array, l: MessageLimits): PbftMessage {
  if (!(raw instanceof Uint8Array)) fail('WRONG_TYPE', 'message is not bytes');
  if (raw.length > maxMessageBytes(l)) fail('TOO_LARGE', `message of ${raw.length} bytes`);
  let v: CborValue;
  try {
    v = decodeCanonical(raw, { maxBytes: maxMessageBytes(l) });
  } catch (e) {
    fail('MALFORMED', `not canonical CBOR: ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.length === 0) fail('WRONG_TYPE', 'message is not a non-empty array');
  const type = v[0];
  if (typeof type !== 'number') fail('WRONG_TYPE', 'message type is not a number');
  if (raw.length > maxMessageBytes(l, type)) fail('TOO_LARGE', `type ${type} message of ${raw.length} bytes`);
  switch (type) {
    case MessageType.prePrepare: {
      arity(v, 7, 'PRE-PREPARE');
      const blockBytes = bytes(v[6], 'block', undefined, l.maxBlockBytes);
      return {
        type,
        view: uint(v[1], 'view'),
        height: uint(v[2], 'height'),
        blockHash: bytes(v[3], 'blockHash', 32),
        replica: replicaIndex(v[4], l),
        signature: bytes(v[5], 'signature', 64),
        block: decodeBlockStrict(blockBytes, l),
        blockBytes,
      };
    }
    case MessageType.prepare:
    case MessageType.commit: {
      arity(v, 6, type === MessageType.prepare ? 'PREPARE' : 'COMMIT');
      return {
        type,
        view: uint(v[1], 'view'),
        height: uint(v[2], 'height'),
        blockHash: bytes(v[3], 'blockHash', 32),
        replica: replicaIndex(v[4], l),
        signature: bytes(v[5], 'signature', 64),
      };
    }
    case MessageType.checkpoint: {
      arity(v, 7, 'CHECKPOINT');
      return {
        type,
        height: uint(v[1], 'height'),
        blockHash: bytes(v[2], 'blockHash', 32),
        stateRoot: bytes(v[3], 'stateRoot', 32),
        timestamp: uint(v[4], 'timestamp'),
        replica: replicaIndex(v[5], l),
        signature: bytes(v[6], 'signature', 64),
      };
    }
    case MessageType.viewChange: {
      arity(v, 6, 'VIEW-CHANGE');
      const prepared = array(v[3], 'prepared', l.windowSize).map((p, i): PreparedProof => {
        const pa = array(p, `prepared[${i}]`, 2);
        arity(pa, 2, `prepared[${i}]`);
        return {
          prePrepare: bytes(pa[0], 'prePrepare', undefined, maxPrePrepareBytes(l)),
          prepares: bytesList(pa[1], 'prepares', l.n, SMALL_MESSAGE_BYTES),
        };
      });
      return {
        type,
        newView: uint(v[1], 'newView'),
        checkpointProof: bytesList(v[2], 'checkpointProof', l.n, SMALL_MESSAGE_BYTES),
        prepared,
        replica: replicaIndex(v[4], l),
        signature: bytes(v[5], 'signature', 64),
      };
    }
    case MessageType.newView: {
      arity(v, 6, 'NEW-VIEW');
      return {
        type,
        view: uint(v[1], 'view'),
        viewChanges: bytesList(v[2], 'viewChanges', l.n, maxViewChangeBytes(l)),
        prePrepares: bytesList(v[3], 'prePrepares', l.windowSize, maxPrePrepareBytes(l)),
        replica: replicaIndex(v[4], l),
        signature: bytes(v[5], 'signature', 64),
      };
    }
    case MessageType.fetch: {
      arity(v, 5, 'FETCH');
      const count = uint(v[2], 'count');
      if (count < 1 || count > MAX_FETCH_COUNT) fail('WRONG_TYPE', `FETCH count ${count} out of range`);
      return {
        type,
        fromHeight: uint(v[1], 'fromHeight'),
        count,
        replica: replicaIndex(v[3], l),
        signature: bytes(v[4], 'signature', 64),
      };
    }
    case MessageType.blockReply: {
      arity(v, 7, 'BLOCK');
      const blockBytes = bytes(v[5], 'block', undefined, l.maxBlockBytes);
      const certBytes = bytes(v[6], 'certificate', undefined, l.n * 96 + SMALL_MESSAGE_BYTES);
      let certificate: CommitCertificate;
      try {
        certificate = decodeCommitCertificate(certBytes);
      } catch (e) {
        fail('BAD_CERTIFICATE', `certificate does not decode: ${(e as Error).message}`);
      }
      return {
        type,
        height: uint(v[1], 'height'),
        blockHash: bytes(v[2], 'blockHash', 32),
        replica: replicaIndex(v[3], l),
        signature: bytes(v[4], 'signature', 64),
        block: decodeBlockStrict(blockBytes, l),
        blockBytes,
        certificate,
      };
    }
    case MessageType.suspect: {
      arity(v, 4, 'SUSPECT');
      return {
        type,
        view: uint(v[1], 'view'),
        replica: replicaIndex(v[2], l),
        signature: bytes(v[3], 'signature', 64),
      };
    }
    default:
      fail('UNKNOWN_TYPE', `unknown message type ${String(type)}`);
  }
}

/** Encodes a block once, for building a PRE-PREPARE or a BLOCK reply. */
export function blockBytesOf(block: Block): Uint8Array {
  return encodeBlock(block);
}
