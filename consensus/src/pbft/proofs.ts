// Checking the certificates PBFT replicas exchange: block shape, stable-checkpoint proofs (§4.3),
// prepared certificates (§4.2, §4.4) and VIEW-CHANGE messages (§4.4). Pure functions of a
// ProtocolContext; each throws PbftRejectError with a DropReason code.

import { type Block, blockHash, merkleRoot } from '../wire/index.ts';
import { bytesEqual, ZERO_HASH } from './bytes.ts';
import type { ProtocolContext } from './context.ts';
import { DropReason, PbftDecodeError, PbftRejectError } from './errors.ts';
import {
  type Checkpoint,
  decodeMessage,
  MessageType,
  type PbftMessage,
  type PrePrepare,
  type PreparedProof,
  type Prepare,
  type ViewChange,
} from './messages.ts';
import { primaryOf } from './quorum.ts';

function reject(code: DropReason, why: string): never {
  throw new PbftRejectError(code, why);
}

/** Decodes a nested message, mapping decode failures to MALFORMED. */
export function decodeNested(ctx: ProtocolContext, raw: Uint8Array): PbftMessage {
  try {
    return decodeMessage(raw, ctx.limits);
  } catch (e) {
    if (e instanceof PbftDecodeError) {
      reject(e.code === 'NOT_MEMBER' ? DropReason.notMember : DropReason.malformed, e.message);
    }
    throw e;
  }
}

/**
 * Structural validity of a block against the hash and height that were signed for it: header hash,
 * chain id, height, txCount/txRoot (RFC 6962 root over the encoded transactions), size bounds.
 * Returns a reason, or undefined when the block is well-formed.
 */
export function blockShapeProblem(
  ctx: ProtocolContext,
  block: Block,
  expectedHash: Uint8Array,
  expectedHeight: number,
): string | undefined {
  const h = block.header;
  if (h.chainId !== ctx.chainId) return 'wrong chain';
  if (h.height !== expectedHeight) return 'header height differs from the signed height';
  if (!bytesEqual(blockHash(h), expectedHash)) return 'header hash differs from the signed hash';
  if (h.txCount !== block.txs.length) return 'txCount mismatch';
  if (block.txs.length > ctx.maxBlockTxs) return 'too many transactions';
  let total = 0;
  for (const tx of block.txs) total += tx.length;
  if (total > ctx.maxBlockBytes) return 'transactions exceed maxBlockBytes';
  if (!bytesEqual((ctx.limits.txRoot ?? merkleRoot)(block.txs), h.txRoot)) return 'txRoot mismatch';
  if (h.stateHeight >= h.height) return 'stateHeight must be below height';
  if (h.proposer >= ctx.n) return 'proposer not a validator';
  return undefined;
}

export interface StableCheckpoint {
  height: number;
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  timestamp: number;
  /** q encoded CHECKPOINT messages (empty for genesis). */
  proof: Uint8Array[];
}

export function genesisCheckpoint(ctx: ProtocolContext): StableCheckpoint {
  return {
    height: 0,
    blockHash: ZERO_HASH,
    stateRoot: ctx.genesisStateRoot,
    timestamp: ctx.genesisTimestamp,
    proof: [],
  };
}

export function sameCheckpoint(a: Checkpoint, b: Checkpoint): boolean {
  return (
    a.height === b.height &&
    a.timestamp === b.timestamp &&
    bytesEqual(a.blockHash, b.blockHash) &&
    bytesEqual(a.stateRoot, b.stateRoot)
  );
}

/**
 * A stable-checkpoint proof (§4.3): q CHECKPOINT messages from distinct replicas agreeing on (height,
 * blockHash, stateRoot, timestamp), each correctly signed. The empty proof stands for genesis (height 0),
 * which every replica knows.
 */
export function checkCheckpointProof(
  current: ProtocolContext,
  proof: readonly Uint8Array[],
): StableCheckpoint {
  if (proof.length === 0) return genesisCheckpoint(current);
  // A checkpoint at height H is certified by the epoch containing H (ADR 0015): the first checkpoint
  // of an epoch, at its start - 1, carries the previous epoch's signatures.
  const head = decodeNested(current, proof[0]!);
  if (head.type !== MessageType.checkpoint)
    reject(DropReason.badCheckpoint, 'checkpoint proof holds a non-CHECKPOINT');
  const ctx = current.contextAt === undefined ? current : current.contextAt(head.height);
  if (ctx === undefined) reject(DropReason.badCheckpoint, `epoch of checkpoint ${head.height} not known yet`);
  let first: Checkpoint | undefined;
  const senders = new Set<number>();
  for (const raw of proof) {
    const m = decodeNested(ctx, raw);
    if (m.type !== MessageType.checkpoint)
      reject(DropReason.badCheckpoint, 'checkpoint proof holds a non-CHECKPOINT');
    if (first === undefined) first = m;
    else if (!sameCheckpoint(first, m))
      reject(DropReason.badCheckpoint, 'checkpoint proof messages disagree');
    if (senders.has(m.replica)) reject(DropReason.badCheckpoint, 'two checkpoint messages from one replica');
    if (!ctx.auth.verify(m)) reject(DropReason.badSignature, 'bad signature in checkpoint proof');
    senders.add(m.replica);
  }
  const c = first!;
  if (c.height === 0 || c.height % ctx.checkpointInterval !== 0) {
    reject(DropReason.badCheckpoint, `checkpoint height ${c.height} is not a positive multiple of K`);
  }
  if (senders.size < ctx.q)
    reject(DropReason.badCheckpoint, `checkpoint proof has ${senders.size} < q messages`);
  return {
    height: c.height,
    blockHash: c.blockHash,
    stateRoot: c.stateRoot,
    timestamp: c.timestamp,
    proof: [...proof],
  };
}

/** A verified prepared certificate. */
export interface PreparedEntry {
  view: number;
  height: number;
  blockHash: Uint8Array;
  block: Block;
  blockBytes: Uint8Array;
  proof: PreparedProof;
}

/**
 * A prepared certificate (§4.2: "prepared(m, v, n, i)"): a PRE-PREPARE signed by the primary of v, and
 * PREPAREs for the same (v, n, digest) from q-1 distinct replicas other than that primary.
 */
export function checkPreparedProof(ctx: ProtocolContext, proof: PreparedProof): PreparedEntry {
  const pp = decodeNested(ctx, proof.prePrepare);
  if (pp.type !== MessageType.prePrepare)
    reject(DropReason.badCertificate, 'certificate without a PRE-PREPARE');
  const primary = primaryOf(pp.view, ctx.n);
  if (pp.replica !== primary)
    reject(DropReason.badCertificate, 'PRE-PREPARE not from the primary of its view');
  if (!ctx.auth.verify(pp)) reject(DropReason.badSignature, 'bad PRE-PREPARE signature in certificate');
  const shape = blockShapeProblem(ctx, pp.block, pp.blockHash, pp.height);
  if (shape !== undefined) reject(DropReason.badCertificate, `certified block: ${shape}`);
  if (pp.block.header.view > pp.view)
    reject(DropReason.badCertificate, 'block header view above PRE-PREPARE view');
  const senders = new Set<number>();
  for (const raw of proof.prepares) {
    const m = decodeNested(ctx, raw);
    if (m.type !== MessageType.prepare) reject(DropReason.badCertificate, 'certificate holds a non-PREPARE');
    if (!matches(m, pp)) reject(DropReason.badCertificate, 'PREPARE does not match the PRE-PREPARE');
    if (m.replica === primary) reject(DropReason.badCertificate, 'PREPARE from the primary');
    if (senders.has(m.replica)) reject(DropReason.badCertificate, 'two PREPAREs from one replica');
    if (!ctx.auth.verify(m)) reject(DropReason.badSignature, 'bad PREPARE signature in certificate');
    senders.add(m.replica);
  }
  if (senders.size < ctx.q - 1)
    reject(DropReason.badCertificate, `certificate has ${senders.size} < q-1 PREPAREs`);
  return {
    view: pp.view,
    height: pp.height,
    blockHash: pp.blockHash,
    block: pp.block,
    blockBytes: pp.blockBytes,
    proof,
  };
}

function matches(p: Prepare, pp: PrePrepare): boolean {
  return p.view === pp.view && p.height === pp.height && bytesEqual(p.blockHash, pp.blockHash);
}

export interface CheckedViewChange {
  message: ViewChange;
  raw: Uint8Array;
  checkpoint: StableCheckpoint;
  /** Prepared entries by height, all above the checkpoint and within its window. */
  prepared: Map<number, PreparedEntry>;
}

/**
 * A VIEW-CHANGE (§4.4): signed by its sender, a valid stable-checkpoint proof C, and a P set whose
 * certificates are valid, for views below the new view, at distinct heights in (h, h + L].
 */
export function checkViewChange(
  ctx: ProtocolContext,
  raw: Uint8Array,
  decoded?: PbftMessage,
): CheckedViewChange {
  const m = decoded ?? decodeNested(ctx, raw);
  if (m.type !== MessageType.viewChange) reject(DropReason.badViewChange, 'not a VIEW-CHANGE');
  if (!ctx.auth.verify(m)) reject(DropReason.badSignature, 'bad VIEW-CHANGE signature');
  const checkpoint = checkCheckpointProof(ctx, m.checkpointProof);
  // A VIEW-CHANGE belongs to the epoch right above its checkpoint; `ctx` must be that epoch (ADR 0015).
  if (
    checkpoint.height + 1 < (ctx.epochStart ?? 1) ||
    (ctx.epochLast !== undefined && checkpoint.height + 1 > ctx.epochLast)
  ) {
    reject(DropReason.badViewChange, `checkpoint ${checkpoint.height} is not in this epoch`);
  }
  const top = Math.min(checkpoint.height + ctx.windowSize, ctx.epochLast ?? Number.POSITIVE_INFINITY);
  const prepared = new Map<number, PreparedEntry>();
  for (const p of m.prepared) {
    const e = checkPreparedProof(ctx, p);
    if (e.view >= m.newView)
      reject(DropReason.badViewChange, 'prepared certificate from a view >= the new view');
    if (e.height <= checkpoint.height || e.height > top) {
      reject(DropReason.badViewChange, `prepared height ${e.height} outside the sender's window`);
    }
    if (prepared.has(e.height)) reject(DropReason.badViewChange, `two certificates for height ${e.height}`);
    prepared.set(e.height, e);
  }
  return { message: m, raw, checkpoint, prepared };
}
