// NEW-VIEW computation and checking (Castro & Liskov, TOCS 2002, §4.4 and §4.5.2), extended with the
// chain repair that keeps hash-chained blocks consistent (ADR 0011, docs/consensus.md "View change").
//
// Given q valid VIEW-CHANGE messages for view v:
//   min-s = the highest stable checkpoint among them;
//   max-s = the highest height of any prepared certificate among them;
//   for every height h in (min-s, max-s]: the block of the prepared certificate with the highest view
//   at h, else a null block (§4.4: "the primary creates a new pre-prepare ... for the request with the
//   highest view number ... or a null request").
// Chain repair: walking up from the checkpoint, a selected block whose prevHash is not the hash of the
// block chosen at h-1 is replaced by a null block. Null blocks are built deterministically, so every
// backup recomputes the same O set and accepts the NEW-VIEW only if the primary's PRE-PREPAREs match it.

import { type Block, type BlockHeader, blockHash, merkleRoot, type Signer } from '../wire/index.ts';
import { bytesEqual, compareBytes } from './bytes.ts';
import type { ProtocolContext } from './context.ts';
import { DropReason, PbftRejectError } from './errors.ts';
import { blockBytesOf, createMessage, MessageType, type NewView, type PrePrepare } from './messages.ts';
import {
  blockShapeProblem,
  type CheckedViewChange,
  checkViewChange,
  decodeNested,
  type PreparedEntry,
  type StableCheckpoint,
} from './proofs.ts';
import { primaryOf } from './quorum.ts';

export interface PlannedBlock {
  height: number;
  block: Block;
  blockBytes: Uint8Array;
  blockHash: Uint8Array;
  /** The certificate the block was taken from, or undefined for a null block. */
  source: PreparedEntry | undefined;
}

export interface NewViewPlan {
  view: number;
  checkpoint: StableCheckpoint;
  /** O, in height order, for heights checkpoint.height+1 .. maxS (empty when nothing was prepared). */
  blocks: PlannedBlock[];
}

/** The deterministic null block at `height` chained onto `parent` (ADR 0011). */
export function nullBlock(
  ctx: ProtocolContext,
  view: number,
  height: number,
  parent: { hash: Uint8Array; timestamp: number },
  checkpoint: StableCheckpoint,
): Block {
  const header: BlockHeader = {
    version: 1,
    chainId: ctx.chainId,
    height,
    view,
    prevHash: parent.hash,
    txRoot: merkleRoot([]),
    txCount: 0,
    stateRoot: checkpoint.stateRoot,
    stateHeight: checkpoint.height,
    proposer: primaryOf(view, ctx.n),
    timestamp: parent.timestamp + 1,
  };
  return { header, txs: [] };
}

/**
 * Computes O from a set of checked VIEW-CHANGE messages (§4.4), with chain repair.
 * `ignorePrepared` is the test-only mutation that drops every prepared certificate.
 */
export function computeNewViewPlan(
  ctx: ProtocolContext,
  view: number,
  viewChanges: readonly CheckedViewChange[],
  ignorePrepared = false,
): NewViewPlan {
  if (viewChanges.length === 0) throw new PbftRejectError(DropReason.badNewView, 'no VIEW-CHANGE messages');
  // min-s: the latest stable checkpoint; ties broken by the first in the (sender-sorted) list.
  let checkpoint = viewChanges[0]!.checkpoint;
  for (const vc of viewChanges) if (vc.checkpoint.height > checkpoint.height) checkpoint = vc.checkpoint;
  // For every height above min-s, the certificate with the highest view (ties: smallest hash, which
  // only matters if more than f replicas are faulty, but keeps the choice deterministic).
  const best = new Map<number, PreparedEntry>();
  let maxS = checkpoint.height;
  if (!ignorePrepared) {
    for (const vc of viewChanges) {
      for (const [h, e] of vc.prepared) {
        if (h <= checkpoint.height) continue;
        const cur = best.get(h);
        if (
          cur === undefined ||
          e.view > cur.view ||
          (e.view === cur.view && compareBytes(e.blockHash, cur.blockHash) < 0)
        ) {
          best.set(h, e);
        }
        if (h > maxS) maxS = h;
      }
    }
  }
  const blocks: PlannedBlock[] = [];
  let parent = { hash: checkpoint.blockHash, timestamp: checkpoint.timestamp };
  for (let h = checkpoint.height + 1; h <= maxS; h++) {
    const e = best.get(h);
    let planned: PlannedBlock;
    if (
      e !== undefined &&
      bytesEqual(e.block.header.prevHash, parent.hash) &&
      e.block.header.timestamp > parent.timestamp
    ) {
      planned = { height: h, block: e.block, blockBytes: e.blockBytes, blockHash: e.blockHash, source: e };
    } else {
      // No certificate, or chain repair: the selected block does not extend the block chosen at h-1.
      const block = nullBlock(ctx, view, h, parent, checkpoint);
      planned = {
        height: h,
        block,
        blockBytes: blockBytesOf(block),
        blockHash: blockHash(block.header),
        source: undefined,
      };
    }
    blocks.push(planned);
    parent = { hash: planned.blockHash, timestamp: planned.block.header.timestamp };
  }
  return { view, checkpoint, blocks };
}

/** The new primary's NEW-VIEW: V (the raw VIEW-CHANGEs), and O as signed PRE-PREPAREs for `view`. */
export function buildNewView(
  ctx: ProtocolContext,
  signer: Signer,
  self: number,
  plan: NewViewPlan,
  viewChanges: readonly CheckedViewChange[],
): { message: NewView; bytes: Uint8Array; prePrepares: { message: PrePrepare; bytes: Uint8Array }[] } {
  const prePrepares = plan.blocks.map((b) =>
    createMessage<PrePrepare>(ctx.chainId, signer, {
      type: MessageType.prePrepare,
      view: plan.view,
      height: b.height,
      blockHash: b.blockHash,
      replica: self,
      block: b.block,
      blockBytes: b.blockBytes,
    }),
  );
  const nv = createMessage<NewView>(ctx.chainId, signer, {
    type: MessageType.newView,
    view: plan.view,
    viewChanges: viewChanges.map((v) => v.raw),
    prePrepares: prePrepares.map((p) => p.bytes),
    replica: self,
  });
  return { ...nv, prePrepares };
}

function bad(why: string): never {
  throw new PbftRejectError(DropReason.badNewView, why);
}

export interface CheckedNewView {
  plan: NewViewPlan;
  prePrepares: { message: PrePrepare; bytes: Uint8Array }[];
}

/**
 * A backup's check of NEW-VIEW (§4.5.2, "A backup accepts a new-view message for v+1 if it is signed
 * properly, if the view-change messages it contains are valid for view v+1, and if the set O is
 * correct; it verifies the correctness of O by performing a computation similar to the one used by the
 * primary to create O"). The NEW-VIEW's own signature is checked by the caller.
 */
export function checkNewView(ctx: ProtocolContext, nv: NewView): CheckedNewView {
  const primary = primaryOf(nv.view, ctx.n);
  if (nv.replica !== primary) bad('NEW-VIEW not from the primary of its view');
  const vcs: CheckedViewChange[] = [];
  const senders = new Set<number>();
  for (const raw of nv.viewChanges) {
    const vc = checkViewChange(ctx, raw);
    if (vc.message.newView !== nv.view) bad(`VIEW-CHANGE for view ${vc.message.newView}, not ${nv.view}`);
    if (senders.has(vc.message.replica)) bad('two VIEW-CHANGEs from one replica');
    senders.add(vc.message.replica);
    vcs.push(vc);
  }
  if (senders.size < ctx.q) bad(`only ${senders.size} VIEW-CHANGEs, need q = ${ctx.q}`);
  vcs.sort((a, b) => a.message.replica - b.message.replica);
  const lax = ctx.mutations.acceptNewViewWithoutPreparedProof === true;
  const plan = computeNewViewPlan(ctx, nv.view, vcs, lax);
  const prePrepares: { message: PrePrepare; bytes: Uint8Array }[] = [];
  for (const raw of nv.prePrepares) {
    const m = decodeNested(ctx, raw);
    if (m.type !== MessageType.prePrepare) bad('O holds a non-PRE-PREPARE');
    if (m.view !== nv.view || m.replica !== primary)
      bad('O PRE-PREPARE for another view or from another replica');
    if (!ctx.auth.verify(m))
      throw new PbftRejectError(DropReason.badSignature, 'bad PRE-PREPARE signature in O');
    prePrepares.push({ message: m, bytes: raw });
  }
  if (lax) {
    // TEST-ONLY mutation: take the primary's O on trust (heights must still be contiguous).
    let parent = { hash: plan.checkpoint.blockHash };
    const blocks: PlannedBlock[] = [];
    for (const [i, p] of prePrepares.entries()) {
      if (p.message.height !== plan.checkpoint.height + 1 + i) bad('O heights not contiguous');
      const shape = blockShapeProblem(ctx, p.message.block, p.message.blockHash, p.message.height);
      if (shape !== undefined) bad(`O block: ${shape}`);
      if (!bytesEqual(p.message.block.header.prevHash, parent.hash)) bad('O does not chain');
      blocks.push({
        height: p.message.height,
        block: p.message.block,
        blockBytes: p.message.blockBytes,
        blockHash: p.message.blockHash,
        source: undefined,
      });
      parent = { hash: p.message.blockHash };
    }
    return { plan: { ...plan, blocks }, prePrepares };
  }
  if (prePrepares.length !== plan.blocks.length)
    bad(`O has ${prePrepares.length} PRE-PREPAREs, expected ${plan.blocks.length}`);
  for (const [i, b] of plan.blocks.entries()) {
    const p = prePrepares[i]!.message;
    if (p.height !== b.height || !bytesEqual(p.blockHash, b.blockHash)) {
      bad(`O at height ${b.height} differs from the recomputed block (omitted or substituted)`);
    }
    // The signature covers the block's hash, not the block bytes the PRE-PREPARE carries beside it: a
    // faulty primary could sign the right hash and attach another block. The backup stores this raw
    // PRE-PREPARE and puts it in its prepared certificate, so a mismatch would make its later
    // VIEW-CHANGE invalid to every peer and its records unrestorable. Canonical encoding: the same
    // block is the same bytes.
    if (!bytesEqual(prePrepares[i]!.message.blockBytes, b.blockBytes)) {
      bad(`O at height ${b.height} carries a block other than the one its hash names`);
    }
  }
  return { plan, prePrepares };
}
