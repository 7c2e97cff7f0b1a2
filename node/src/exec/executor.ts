// Block execution: checks a committed block against the applied head, runs its transactions through
// the framework rules (envelope, chain, duplicate, signature, nonce) and the state machine's handlers,
// and writes everything the block changes in ONE atomic, fsynced LevelDB batch. A crash therefore leaves
// the node at the previous height or the new one, never in between (docs/storage.md, "Crash safety").
import {
  type Block,
  blockHash,
  type CommitCertificate,
  commitVoteSignBytes,
  encodeCommitCertificate,
  referenceVerifier,
  type Transaction,
  type Verifier,
  verifyCommitCertificate,
  WireError,
} from '@vigil/consensus/wire';
import { bytesEqual } from '@vigil/consensus/proof/smt.ts';
import { blockEffectsKey } from '@vigil/consensus/proof/effects.ts';
import { ProofError } from '@vigil/consensus/proof/errors.ts';
import {
  decodeReceiptBytes,
  encodeReceiptsRootValue,
  receiptsRootKey,
} from '@vigil/consensus/proof/receipts.ts';
import type { ChainHead, ChainStore } from '../store/chain-store.ts';
import { rootedHeight, ChainStore as Store } from '../store/chain-store.ts';
import type { BatchOp } from '../store/db.ts';
import { batchKey, batchKeys, keys, Prefix } from '../store/keys.ts';
import {
  encodeBytes,
  encodeReceipt,
  encodeTxLocationForBatch,
  encodeUint,
  type Receipt,
} from '../store/records.ts';
import type { BatchVerifier, SignatureCheck } from '../verify-pool/types.ts';
import { decodeNonce, encodeNonce, nonceKey } from './accounts.ts';
import { checkedTxRoot, storedBlockBytes } from './block-bytes.ts';
import {
  decodeEffectsRecord,
  effectsDigestValue,
  encodeEffectsRecord,
  laterBlocksOf,
  syncedEffectsOf,
} from './block-effects.ts';
import { BlockRejected, ExecutionError, FrameworkRejection } from './block-errors.ts';
import { TxRejected } from './errors.ts';
import { Overlay, OverlayError, type Write } from './overlay.ts';
import { mapKey } from '../store/map-key.ts';
import { txRoot } from '../crypto/tx-root.ts';
import { decodeTx } from './tx-envelope.ts';
import type { ChainEvent, ExecContext, HandlerRegistry } from './types.ts';
import { hexKey } from '../state-tree/hex-key.ts';
import type { TreeUpdate } from '../state-tree/tree.ts';

/** Transactions whose signature was already checked (the mempool's admission cache). */
export interface VerifiedTxCache {
  /** True only if THIS signature over the transaction with this id was verified: the id does not
   *  cover the signature, so a cached id alone would let a re-signed copy with a bad signature in. */
  isVerified(txId: Uint8Array, signature: Uint8Array): boolean;
}

export interface EmittedEvent {
  height: number;
  position: number;
  txId: Uint8Array;
  event: ChainEvent;
}

export interface BlockResult {
  height: number;
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  receipts: Receipt[];
  events: EmittedEvent[];
  /** How many signatures were actually verified for this block (not skipped). */
  signaturesVerified: number;
  /** Where the wall-clock time of applying it went (applyBlock only). */
  phases?: ApplyPhases;
}

/**
 * Wall-clock milliseconds of one applyBlock call by phase (vigil_block_apply_phase_seconds): a block
 * application that takes long without costing more CPU is waiting, and these say on what.
 */
export interface ApplyPhases {
  /** Queued behind the blocks before it (applyBlock calls are serialised). */
  wait: number;
  /** Header and commit certificate checks. */
  check: number;
  /** Decoding and signature checks, or waiting for those started by preverify, and committed-id reads. */
  prepare: number;
  /** Running the transactions (state and index reads included). */
  execute: number;
  /** The state-tree update (at multiples of k only, ADR 0117) and building the batch. */
  tree: number;
  /** The atomic fsynced batch write and the store's head update. */
  write: number;
}

/**
 * What applying a block inside a certified range produced (applyCertifiedRange). Only the range's last
 * block has its state root: the state after the others was never materialised (ADR 0115).
 */
export interface BlockOutcome extends Omit<BlockResult, 'stateRoot'> {
  stateRoot: Uint8Array | undefined;
}

/** A committed block with the certificate that proves it. */
export interface CertifiedBlock {
  block: Block;
  certificate: CommitCertificate;
}

export interface RangeOptions {
  /** Ends the range after a block whose events satisfy this (a validator-set change: the blocks after
   *  it are certified by the new set, which the caller must learn first, ADR 0015). */
  endAfter?: (events: readonly EmittedEvent[]) => boolean;
  /** Most blocks in one range. Default 64. */
  maxBlocks?: number;
  /** Most transactions in one range (a later block that would exceed it starts the next). Default 8,192. */
  maxTxs?: number;
}

export interface RangeResult {
  /** The blocks applied, in height order: a prefix of the ones given, at least one. */
  blocks: BlockOutcome[];
  /** The last applied height and the state root there (the only one computed). */
  height: number;
  stateRoot: Uint8Array;
}

export interface ApplyOptions {
  /**
   * Skip per-transaction signature checks because the commit certificate verifies: a quorum certified
   * the block, and correct validators only prepare blocks whose signatures they checked (ADR 0031).
   */
  trustCertified?: boolean;
}

export interface ExecutorOptions {
  store: ChainStore;
  handlers: HandlerRegistry;
  /** Transaction signatures (normally the worker pool). */
  verifier: BatchVerifier;
  /** Commit-certificate signatures (a handful per block). Default: the reference verifier. */
  certificateVerifier?: Verifier;
  verifiedCache?: VerifiedTxCache;
  /** The validator set that certifies block `height`. Default: the genesis validators. */
  validatorsAt?: (height: number) => readonly Uint8Array[];
  /** Called after a block is durably committed, with the events its accepted transactions raised. */
  onCommitted?: (result: BlockOutcome) => void;
  /** A listener threw: the block IS committed, so applyBlock still resolves. Default: console.error. */
  onListenerError?: (error: unknown, result: BlockOutcome) => void;
}

interface Candidate {
  position: number;
  tx: Transaction | undefined;
  txId: Uint8Array | undefined;
  signingBytes: Uint8Array | undefined;
  /** A framework rejection decided before execution. */
  early: string | undefined;
  signatureOk: boolean;
  /** The sender's nonce state key, built once per transaction (read twice, written once). */
  nonceKey: Uint8Array | undefined;
}

interface Prepared {
  candidates: Candidate[];
  verified: number;
}

/** A block whose signatures are being checked ahead of its execution (preverify). */
interface Preverified {
  work: Promise<Prepared>;
  /** The transactions the work was started for, and the txRoot they hash to (checked equal to the
   *  header's): applyBlock reuses the root only for a block with these very transaction bytes. */
  txs: readonly Uint8Array[];
  root: Uint8Array;
}

/** Blocks whose signatures may be verified ahead of their execution. */
const MAX_PREVERIFIED = 4;

/**
 * State roots of the blocks this executor applied last, by height: a header names the root at its
 * stateHeight, a few blocks back, and reading it from the store was a LevelDB round trip per block.
 */
const RECENT_ROOTS = 64;

export class BlockExecutor {
  readonly #o: ExecutorOptions;
  readonly #recentRoots = new Map<number, Uint8Array>();
  #queue: Promise<unknown> = Promise.resolve();
  readonly #preverified = new Map<string, Preverified>();

  constructor(options: ExecutorOptions) {
    this.#o = options;
  }

  /**
   * Applies the next block. Calls are serialised; each resolves after the block's batch is durable.
   * Throws BlockRejected (nothing written) or ExecutionError (nothing written).
   */
  applyBlock(block: Block, certificate: CommitCertificate, options: ApplyOptions = {}): Promise<BlockResult> {
    const called = performance.now();
    const run = this.#queue.then(() => this.#apply(block, certificate, options, called));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies certified blocks (catch-up) as one range: the first block and as many following ones as the
   * limits allow, executed in order over one overlay, with the state tree updated once for the range
   * and everything written in ONE atomic batch (ADR 0115). Receipts, index entries and events are those
   * of applying each block on its own; what differs is that only the last block's state root is
   * computed (the others' heights get a 'G' record instead of an 'R' one). Per-transaction signatures
   * are not checked: every block's commit certificate is (ADR 0031).
   *
   * A block whose header does not follow ends the range before it (the caller's next call then rejects
   * it as the first block, so the blocks before it are applied exactly as applyBlock would). Throws
   * BlockRejected or ExecutionError with nothing written.
   */
  applyCertifiedRange(items: readonly CertifiedBlock[], options: RangeOptions = {}): Promise<RangeResult> {
    const run = this.#queue.then(() => this.#applyRange(items, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts decoding and verifying the signatures of a block that will be applied soon (the next
   * committed block while the current one executes), so verification on the worker pool overlaps
   * execution on this thread. applyBlock picks the result up by block hash. Purely an optimisation:
   * nothing is trusted from it that applyBlock does not check (the header is checked at apply time,
   * and a block whose transactions do not match its txRoot is not cached).
   */
  preverify(block: Block): void {
    const head = this.#o.store.head;
    if (head === undefined || block.header.height <= head.height) return;
    const id = hex(blockHash(block.header));
    if (this.#preverified.has(id)) return;
    const root = txRoot(block.txs);
    if (!bytesEqual(root, block.header.txRoot)) return;
    if (this.#preverified.size >= MAX_PREVERIFIED) {
      this.#preverified.delete(this.#preverified.keys().next().value!);
    }
    const work = this.#prepare(head, block, {});
    work.catch(() => undefined);
    this.#preverified.set(id, { work, txs: [...block.txs], root });
  }

  /**
   * The block's txRoot: reused from preverify when the block carries exactly the transaction bytes
   * that were hashed then (a cheap byte comparison instead of ~2,000 SHA-256), computed otherwise.
   */
  #rootOf(block: Block, early: Preverified | undefined): Uint8Array {
    if (early !== undefined && early.txs.length === block.txs.length) {
      let same = true;
      for (let i = 0; same && i < block.txs.length; i++) {
        const a = early.txs[i]!;
        const b = block.txs[i]!;
        same = a === b || Buffer.compare(a, b) === 0;
      }
      if (same) return early.root;
    }
    return txRoot(block.txs);
  }

  async #checkHeader(
    head: ChainHead,
    block: Block,
    certificate: CommitCertificate,
    computedTxRoot: Uint8Array,
    /** Whether `root` may be the state root at `stateHeight`; default #storedRootOk. */
    citedRootOk?: (stateHeight: number, root: Uint8Array) => Promise<boolean>,
    /** Verifies the certificate's votes; default the certificate verifier. */
    voteVerifier?: Verifier,
  ): Promise<void> {
    const h = block.header;
    if (h.chainId !== head.chainId) throw new BlockRejected('WRONG_CHAIN', `block of chain ${h.chainId}`);
    if (h.height <= head.height) throw new BlockRejected('ALREADY_APPLIED', `height ${h.height} is applied`);
    if (h.height !== head.height + 1) {
      throw new BlockRejected('HEIGHT_GAP', `height ${h.height} after applied height ${head.height}`);
    }
    if (!bytesEqual(h.prevHash, head.headHash)) {
      throw new BlockRejected('PREV_HASH_MISMATCH', `block ${h.height} does not extend the head`);
    }
    if (h.txCount !== block.txs.length || !bytesEqual(h.txRoot, computedTxRoot)) {
      throw new BlockRejected('TX_ROOT_MISMATCH', `block ${h.height}`);
    }
    if (!(h.stateHeight < h.height))
      throw new BlockRejected('BAD_STATE_HEIGHT', `stateHeight ${h.stateHeight}`);
    if (!(await (citedRootOk ?? ((s, r) => this.#storedRootOk(s, r)))(h.stateHeight, h.stateRoot))) {
      throw new BlockRejected(
        'STATE_ROOT_MISMATCH',
        `block ${h.height} claims a state root at ${h.stateHeight} this node does not have`,
      );
    }
    const validators = this.#o.validatorsAt?.(h.height) ?? head.validators;
    try {
      verifyCommitCertificate(
        head.chainId,
        certificate,
        h,
        validators,
        voteVerifier ?? this.#o.certificateVerifier ?? referenceVerifier,
      );
    } catch (e) {
      if (e instanceof WireError) throw new BlockRejected('CERTIFICATE_INVALID', e.message);
      throw e;
    }
  }

  /**
   * The header's claimed root at `stateHeight` against this node's: the root it computed there, or, for a
   * height applied inside a certified range (ADR 0115), which has none, the claim is accepted on the
   * commit certificate alone. That check only ever detects this node's own divergence, and the range's
   * end root, which a later header cites and is checked, still does.
   */
  async #storedRootOk(stateHeight: number, claimed: Uint8Array): Promise<boolean> {
    const root = this.#recentRoots.get(stateHeight) ?? (await this.#o.store.blocks.stateRootAt(stateHeight));
    if (root !== undefined) return bytesEqual(root, claimed);
    return (await this.#o.store.blocks.rangeEndOf(stateHeight)) !== undefined;
  }

  /** Decodes the transactions and settles everything that needs no state: envelope, chain, signature. */
  async #prepare(head: ChainHead, block: Block, options: ApplyOptions): Promise<Prepared> {
    const candidates: Candidate[] = block.txs.map((bytes, position) => {
      try {
        // Decoded once; the signing bytes are sliced from the canonical encoding and the id (SHA-256
        // of them, ADR 0004) hashed with node:crypto: no re-encoding (tx-envelope.ts).
        const { tx, signingBytes, txId } = decodeTx(bytes, head.chainId);
        return {
          position,
          tx,
          txId,
          signingBytes,
          early: undefined,
          signatureOk: false,
          nonceKey: nonceKey(tx.sender),
        };
      } catch (e) {
        const code =
          e instanceof WireError && e.code === 'WRONG_CHAIN'
            ? FrameworkRejection.WRONG_CHAIN
            : FrameworkRejection.MALFORMED;
        return {
          position,
          tx: undefined,
          txId: undefined,
          signingBytes: undefined,
          early: code,
          signatureOk: false,
          nonceKey: undefined,
        };
      }
    });
    const toCheck: Candidate[] = [];
    for (const c of candidates) {
      if (c.tx === undefined) continue;
      if (options.trustCertified || this.#o.verifiedCache?.isVerified(c.txId!, c.tx.signature))
        c.signatureOk = true;
      else toCheck.push(c);
    }
    if (toCheck.length > 0) {
      const checks: SignatureCheck[] = toCheck.map((c) => ({
        signature: c.tx!.signature,
        message: c.signingBytes!,
        publicKey: c.tx!.sender,
      }));
      const results = await this.#o.verifier.verifyBatch(checks);
      toCheck.forEach((c, i) => {
        c.signatureOk = results[i] === true;
      });
    }
    return { candidates, verified: toCheck.length };
  }

  async #apply(
    block: Block,
    certificate: CommitCertificate,
    options: ApplyOptions,
    called: number,
  ): Promise<BlockResult> {
    const t0 = performance.now();
    const store = this.#o.store;
    const head = store.requireHead();
    const hash = blockHash(block.header);
    const id = hex(hash);
    const early = this.#preverified.get(id);
    this.#preverified.delete(id);
    await this.#checkHeader(head, block, certificate, this.#rootOf(block, early));
    const t1 = performance.now();
    const height = block.header.height;
    const { candidates, verified } = await (options.trustCertified || early === undefined
      ? this.#prepare(head, block, options)
      : early.work);
    const committedIds = await this.#committedIds(candidates);
    const t2 = performance.now();

    const state = new Overlay((key, id) => store.state.get(key, id));
    const index = new Overlay((key) => store.state.getIndex(key));
    const ops: BatchOp[] = [];
    const layers = { state, index, consumedIds: committedIds };
    const { receipts, events } = await this.#executeAll(block, head, candidates, layers, ops);
    const t3 = performance.now();

    const stateWrites = state.writes();
    // The tree is updated at multiples of k only (ADR 0117): a block between them records the previous
    // root as its own and leaves its changes pending; a root height applies them all with its own.
    const tree =
      height % store.stateRootInterval === 0
        ? store.planTree(
            height,
            await store.tree.update(head.stateRoot, withPending(store.pendingChanges(), stateWrites), height),
            stateWrites,
          )
        : store.planUnrooted(height, stateWrites);
    const update = tree.update;
    ops.push(
      // txCount and txRoot were checked against the transactions in #checkHeader.
      { type: 'put', key: keys.block(height), value: storedBlockBytes(block) },
      { type: 'put', key: keys.certificate(height), value: encodeCommitCertificate(certificate) },
      { type: 'put', key: keys.blockHash(hash), value: encodeUint(height) },
      { type: 'put', key: keys.stateRoot(height), value: encodeBytes(update.root) },
      ...Store.headOps(height, hash, update.root),
    );
    for (const op of tree.ops) ops.push(op);
    this.#pushStateOps(ops, stateWrites, index);
    const t4 = performance.now();
    await store.commit(
      ops,
      { ...head, height, headHash: hash, stateRoot: update.root },
      stateWrites,
      tree.schema,
      tree,
    );
    const t5 = performance.now();
    // Only once durable: the cache must never name a root the store does not have.
    this.#recentRoots.set(height, update.root);
    if (this.#recentRoots.size > RECENT_ROOTS) this.#recentRoots.delete(height - RECENT_ROOTS);

    const result: BlockResult = {
      height,
      blockHash: hash,
      stateRoot: update.root,
      receipts,
      events,
      signaturesVerified: verified,
      phases: {
        wait: t0 - called,
        check: t1 - t0,
        prepare: t2 - t1,
        execute: t3 - t2,
        tree: t4 - t3,
        write: t5 - t4,
      },
    };
    this.#notify(result);
    return result;
  }

  async #applyRange(items: readonly CertifiedBlock[], options: RangeOptions): Promise<RangeResult> {
    if (items.length === 0) throw new RangeError('applyCertifiedRange needs at least one block');
    const store = this.#o.store;
    const start = store.requireHead();
    const k = store.stateRootInterval;
    let maxBlocks = options.maxBlocks ?? 64;
    const maxTxs = options.maxTxs ?? 8192;
    // A range's one tree update is that of its last height, which must then be a multiple of k for its
    // root to be the one live execution records there (ADR 0117): end at the last multiple in reach.
    // None in reach: the first block alone, as live execution applies it.
    if (k > 1) {
      const reach = rootedHeight(start.height + Math.min(maxBlocks, items.length), k) - start.height;
      if (reach <= 0) return this.#applyAlone(items[0]!);
      maxBlocks = reach;
    }
    // ADR 0133: the blocks' effects from a peer instead of their execution, when a later certified
    // header cites the state they lead to. Anything that does not check out is executed instead.
    const fromEffects = await this.#applyRangeFromEffects(items, options, start, maxBlocks, maxTxs);
    if (fromEffects !== undefined) return fromEffects;
    // One overlay for the whole range: each block reads what the earlier ones wrote, and the tree and
    // the flat state see each key once, with its last value. Each block runs in a layer of its own
    // (absorbed once it is done), whose writes are that block's effects record.
    const state = new Overlay((key, id) => store.state.get(key, id));
    const index = new Overlay((key) => store.state.getIndex(key));
    const ops: BatchOp[] = [];
    const outcomes: BlockOutcome[] = [];
    const claims = new Map<number, Uint8Array>();
    const consumed = new Set<string>();
    const votes = await this.#verifyVotes(start, items.slice(0, maxBlocks));
    let head = start;
    let txs = 0;
    for (const { block, certificate } of items) {
      if (outcomes.length >= maxBlocks) break;
      if (outcomes.length > 0 && txs + block.txs.length > maxTxs) break;
      const hash = blockHash(block.header);
      const rejected = await this.#checkRangeHeader(head, block, certificate, start, claims, votes);
      if (rejected !== undefined) {
        // Not the first: end the range here; the next call meets this block first and throws.
        if (outcomes.length > 0) break;
        throw rejected;
      }
      const height = block.header.height;
      const blockState = state.child();
      const blockIndex = index.child();
      const { candidates } = await this.#prepare(head, block, { trustCertified: true });
      await this.#committedIds(candidates, blockState, consumed);
      const layers = { state: blockState, index: blockIndex, consumedIds: consumed };
      const { receipts, events } = await this.#executeAll(block, head, candidates, layers, ops);
      state.absorb(blockState);
      index.absorb(blockIndex);
      this.#pushBlockOps(ops, block, certificate, hash);
      outcomes.push({
        height,
        blockHash: hash,
        stateRoot: undefined,
        receipts,
        events,
        signaturesVerified: 0,
      });
      head = { ...head, height, headHash: hash };
      txs += block.txs.length;
      if (options.endAfter?.(events)) break;
    }

    const end = head.height;
    if (end % k !== 0) {
      // Ended early (the transaction limit, a validator-set change, a header that does not follow) between
      // two multiples of k: nothing is written yet, so apply the range again up to the last multiple.
      const reach = rootedHeight(end, k) - start.height;
      if (reach <= 0) return this.#applyAlone(items[0]!);
      return this.#applyRange(items, { ...options, maxBlocks: reach });
    }
    const stateWrites = state.writes();
    const update = await store.tree.update(
      start.stateRoot,
      withPending(store.pendingChanges(), stateWrites),
      end,
    );
    return this.#commitRange(start, head, outcomes, index, stateWrites, update, ops);
  }

  /** #checkHeader for a block of a certified range: the rejection returned, not thrown. */
  async #checkRangeHeader(
    head: ChainHead,
    block: Block,
    certificate: CommitCertificate,
    start: ChainHead,
    claims: Map<number, Uint8Array>,
    votes: Verifier,
  ): Promise<BlockRejected | undefined> {
    try {
      await this.#checkHeader(
        head,
        block,
        certificate,
        checkedTxRoot(block),
        this.#rangeClaims(start, claims),
        votes,
      );
      return undefined;
    } catch (e) {
      if (e instanceof BlockRejected) return e;
      throw e;
    }
  }

  /**
   * Whether a header in a range may claim `root` at `stateHeight`: heights up to the range's start are
   * checked against this node's roots; roots inside the range are never computed here, so all a later
   * header can be checked against is what an earlier one claimed (`claims`, filled as they come).
   */
  #rangeClaims(
    start: ChainHead,
    claims: Map<number, Uint8Array>,
  ): (stateHeight: number, root: Uint8Array) => Promise<boolean> {
    return async (s, claimed) => {
      if (s <= start.height) return this.#storedRootOk(s, claimed);
      const earlier = claims.get(s);
      if (earlier !== undefined) return bytesEqual(earlier, claimed);
      claims.set(s, claimed);
      return true;
    };
  }

  #pushBlockOps(ops: BatchOp[], block: Block, certificate: CommitCertificate, hash: Uint8Array): void {
    const height = block.header.height;
    ops.push(
      { type: 'put', key: keys.block(height), value: storedBlockBytes(block) },
      { type: 'put', key: keys.certificate(height), value: encodeCommitCertificate(certificate) },
      { type: 'put', key: keys.blockHash(hash), value: encodeUint(height) },
    );
  }

  /** Writes a range whose tree update is done, in ONE atomic batch (ADR 0115), and reports it. */
  async #commitRange(
    start: ChainHead,
    head: ChainHead,
    outcomes: BlockOutcome[],
    index: Overlay,
    stateWrites: readonly Write[],
    update: TreeUpdate,
    ops: BatchOp[],
  ): Promise<RangeResult> {
    const store = this.#o.store;
    const end = head.height;
    for (const o of outcomes) {
      if (o.height !== end)
        ops.push({ type: 'put', key: keys.rangeInterior(o.height), value: encodeUint(end) });
    }
    ops.push(
      { type: 'put', key: keys.stateRoot(end), value: encodeBytes(update.root) },
      ...Store.headOps(end, head.headHash, update.root),
    );
    // A range always stores its tree (ADR 0116): its interior heights have no 'D' records to rebuild
    // a held tree from.
    const tree = store.planTree(end, update, [], { materialise: true });
    for (const op of tree.ops) ops.push(op);
    this.#pushStateOps(ops, stateWrites, index);
    // Schema 3 reads 'G' records (store/chain-store.ts): only a range of two or more writes them.
    await store.commit(
      ops,
      { ...start, height: end, headHash: head.headHash, stateRoot: update.root },
      stateWrites,
      Math.max(outcomes.length > 1 ? 3 : 2, tree.schema),
      tree,
    );
    this.#recentRoots.set(end, update.root);
    for (const h of [...this.#recentRoots.keys()]) if (h <= end - RECENT_ROOTS) this.#recentRoots.delete(h);
    outcomes[outcomes.length - 1]!.stateRoot = update.root;
    for (const o of outcomes) this.#notify(o);
    return { blocks: outcomes, height: end, stateRoot: update.root };
  }

  /**
   * A certified range applied from its blocks' effects records (ADR 0133) instead of executing their
   * transactions: the state and index writes, events and receipts a peer sent with each block
   * (block-sync.ts) go where execution would have put them, and the executor writes each block's
   * receipts root and effects digest from them as execution does. The range ends at a height whose
   * state root a LATER certified block's header cites (correct backups prepare a block only if the root
   * it cites is their own, ADR 0010), and nothing is written unless the tree update over these writes
   * gives exactly that root. The root commits to the state, and the state to every block's receipts
   * and effects digest, so a matching root means every record applied is the one execution produces.
   *
   * Undefined (nothing written) when the chain has no effects, a block of the range came without its
   * record, no certified header in `items` cites a height in reach, a record does not decode, a
   * validator-set change falls inside the range, or the root differs (effectsRangeStats counts why):
   * the caller then executes the range.
   */
  async #applyRangeFromEffects(
    items: readonly CertifiedBlock[],
    options: RangeOptions,
    start: ChainHead,
    maxBlocks: number,
    maxTxs: number,
  ): Promise<RangeResult | undefined> {
    const store = this.#o.store;
    if (!store.blockEffects) return undefined;
    const k = store.stateRootInterval;
    const citation = this.#citedEnd(items, start, maxBlocks, maxTxs, k);
    if (citation === undefined) return this.#effectsSkipped('noCitation');
    const { end, root, citing } = citation;
    const range = items.slice(0, end - start.height);
    const records: (Uint8Array | undefined)[] = [];
    for (const { block } of range) {
      const record = syncedEffectsOf(block);
      if (record === undefined && block.txs.length > 0) return this.#effectsSkipped('missing');
      records.push(record);
    }
    const votes = await this.#verifyVotes(start, [...range, citing]);
    const citingValidators = this.#o.validatorsAt?.(citing.block.header.height) ?? start.validators;
    try {
      verifyCommitCertificate(
        start.chainId,
        citing.certificate,
        citing.block.header,
        citingValidators,
        votes,
      );
    } catch (e) {
      if (e instanceof WireError) return this.#effectsSkipped('citation');
      throw e;
    }
    const state = new Overlay((key, id) => store.state.get(key, id));
    const index = new Overlay((key) => store.state.getIndex(key));
    const ops: BatchOp[] = [];
    const outcomes: BlockOutcome[] = [];
    const claims = new Map<number, Uint8Array>();
    let head = start;
    for (let i = 0; i < range.length; i++) {
      const { block, certificate } = range[i]!;
      const hash = blockHash(block.header);
      if ((await this.#checkRangeHeader(head, block, certificate, start, claims, votes)) !== undefined)
        return this.#effectsSkipped('header');
      // Straight into the range's overlay: the record is the block's own, so no per-block layer is
      // needed to take it from (as execution does).
      const applied = this.#applyEffects(block, records[i], state, ops);
      if (applied === undefined) return this.#effectsSkipped('record');
      const { receipts, events } = applied;
      // A validator-set change ends a range (the blocks after it are certified by the new set): the
      // executed path handles that boundary.
      if (block.header.height < end && options.endAfter?.(events))
        return this.#effectsSkipped('reconfiguration');
      this.#pushBlockOps(ops, block, certificate, hash);
      outcomes.push({
        height: block.header.height,
        blockHash: hash,
        stateRoot: undefined,
        receipts,
        events,
        signaturesVerified: 0,
      });
      head = { ...head, height: block.header.height, headHash: hash };
    }
    const stateWrites = state.writes();
    const update = await store.tree.update(
      start.stateRoot,
      withPending(store.pendingChanges(), stateWrites),
      end,
    );
    if (!bytesEqual(update.root, root)) return this.#effectsSkipped('root');
    this.#effectsStats.ranges++;
    this.#effectsStats.blocks += outcomes.length;
    return this.#commitRange(start, head, outcomes, index, stateWrites, update, ops);
  }

  /**
   * The highest root height in reach of the range (at most `maxBlocks` blocks, and `maxTxs` transactions
   * unless it is the first block) whose root a later block in `items` cites, with that block. A header
   * citing height s claims the root recorded at s, which is that of the last multiple of k at or below
   * it (ADR 0117).
   */
  #citedEnd(
    items: readonly CertifiedBlock[],
    start: ChainHead,
    maxBlocks: number,
    maxTxs: number,
    k: number,
  ): { end: number; root: Uint8Array; citing: CertifiedBlock } | undefined {
    // The reach: consecutive heights from the one after the head, within the limits.
    let reach = start.height;
    let txs = 0;
    for (const { block } of items) {
      const h = block.header.height;
      if (h !== reach + 1 || h - start.height > maxBlocks) break;
      if (reach > start.height && txs + block.txs.length > maxTxs) break;
      txs += block.txs.length;
      reach = h;
    }
    let best: { end: number; root: Uint8Array; citing: CertifiedBlock } | undefined;
    // Blocks block sync holds for its next call cite this range's heights too.
    const last = items[items.length - 1];
    const later = last === undefined ? [] : laterBlocksOf(last.block);
    for (const item of later.length === 0 ? items : [...items, ...later]) {
      const h = item.block.header;
      const end = rootedHeight(h.stateHeight, k);
      if (end <= start.height || end > reach || end >= h.height) continue;
      if (best === undefined || end > best.end) best = { end, root: h.stateRoot, citing: item };
    }
    return best;
  }

  /**
   * Puts one block's effects record into the range's state overlay and the batch, as #executeAll would
   * have: the state writes; the index writes ('I', straight into the batch: nothing in the range reads
   * them, and of two writes of one key the later op wins, as the overlay's last value would); the
   * receipts ('X'), the transaction index ('T') of every transaction that consumed its nonce, the
   * receipts root, the effects digest and the record itself. Undefined if the record does not decode
   * or does not fit the block (the caller then executes the range).
   */
  #applyEffects(
    block: Block,
    record: Uint8Array | undefined,
    state: Overlay,
    ops: BatchOp[],
  ): { receipts: Receipt[]; events: EmittedEvent[] } | undefined {
    const height = block.header.height;
    if (block.txs.length === 0 || record === undefined) {
      return block.txs.length === 0 ? { receipts: [], events: [] } : undefined;
    }
    let effects: ReturnType<typeof decodeEffectsRecord>;
    const receipts: Receipt[] = [];
    try {
      effects = decodeEffectsRecord(record);
      if (effects.receipts.length !== block.txs.length) return undefined;
      for (const bytes of effects.receipts) receipts.push(receiptOf(bytes));
      for (const w of effects.stateWrites) {
        if (w.value === undefined) state.del(w.key);
        else state.put(w.key, w.value);
      }
      for (const w of effects.indexWrites) {
        // The decoder holds keys and values to the overlay's limits.
        const key = batchKey(Prefix.index, w.key);
        ops.push(w.value === undefined ? { type: 'del', key } : { type: 'put', key, value: w.value });
      }
    } catch (e) {
      if (e instanceof ProofError || e instanceof OverlayError) return undefined;
      throw e;
    }
    const events: EmittedEvent[] = [];
    for (const e of effects.events) {
      const r = receipts[e.position];
      if (r === undefined || r.status !== 'accepted') return undefined;
      events.push({ height, position: e.position, txId: r.txId, event: { kind: e.kind, data: e.data } });
    }
    receipts.forEach((r, position) => {
      ops.push({ type: 'put', key: batchKeys.receipt(height, position), value: effects.receipts[position]! });
      if (r.txId !== null && consumedNonce(r)) {
        ops.push({
          type: 'put',
          key: batchKeys.tx(r.txId),
          value: encodeTxLocationForBatch(height, position),
        });
      }
    });
    this.#commitToOutcome(height, effects.receipts, record, state, ops);
    return { receipts, events };
  }

  #effectsStats: EffectsRangeStats = { ranges: 0, blocks: 0, skipped: {} };

  /** How catch-up from effects records went (metrics): ranges and blocks applied, ranges executed instead and why. */
  effectsRangeStats(): EffectsRangeStats {
    return { ...this.#effectsStats, skipped: { ...this.#effectsStats.skipped } };
  }

  #effectsSkipped(why: EffectsSkip): undefined {
    this.#effectsStats.skipped[why] = (this.#effectsStats.skipped[why] ?? 0) + 1;
    return undefined;
  }

  /** A certified block applied on its own (live execution's path, signatures trusted) as a range of one. */
  async #applyAlone(item: CertifiedBlock): Promise<RangeResult> {
    const r = await this.#apply(item.block, item.certificate, { trustCertified: true }, performance.now());
    return { blocks: [r], height: r.height, stateRoot: r.stateRoot };
  }

  /**
   * The commit votes of a range's certificates, verified in one batch on the verification pool (its
   * workers are idle during catch-up; three or more ed25519 checks per block were ~5 % of the range's
   * main thread), as a Verifier that verifyCommitCertificate then asks. It answers only for the very
   * signature object it was given with the same message and key, and verifies anything else itself,
   * so the certificate checks are exactly verifyCommitCertificate's (a vote that names a validator of
   * a later epoch is simply checked again).
   */
  async #verifyVotes(start: ChainHead, items: readonly CertifiedBlock[]): Promise<Verifier> {
    const fallback = this.#o.certificateVerifier ?? referenceVerifier;
    const checks: SignatureCheck[] = [];
    for (const { block, certificate } of items) {
      const validators = this.#o.validatorsAt?.(block.header.height) ?? start.validators;
      for (const vote of certificate.votes) {
        const publicKey = validators[vote.validator];
        if (publicKey === undefined || block.header.chainId !== start.chainId) continue;
        const message = commitVoteSignBytes(start.chainId, {
          view: certificate.view,
          height: certificate.height,
          blockHash: certificate.blockHash,
          validator: vote.validator,
        });
        checks.push({ signature: vote.signature, message, publicKey });
      }
    }
    const results = checks.length > 0 ? await this.#o.verifier.verifyBatch(checks) : [];
    const known = new Map<Uint8Array, { check: SignatureCheck; ok: boolean }>();
    checks.forEach((check, i) => {
      known.set(check.signature, { check, ok: results[i] === true });
    });
    return {
      verify(signature, message, publicKey) {
        const k = known.get(signature);
        if (
          k !== undefined &&
          bytesEqual(k.check.message, message) &&
          bytesEqual(k.check.publicKey, publicKey)
        )
          return k.ok;
        return fallback.verify(signature, message, publicKey);
      },
    };
  }

  /** Runs a block's transactions in order; their receipts go into `ops` as they are decided. */
  async #executeAll(
    block: Block,
    head: ChainHead,
    candidates: readonly Candidate[],
    { state, index, consumedIds }: { state: Overlay; index: Overlay; consumedIds: Set<string> },
    ops: BatchOp[],
  ): Promise<{ receipts: Receipt[]; events: EmittedEvent[] }> {
    const height = block.header.height;
    const receipts: Receipt[] = [];
    const encoded: Uint8Array[] = [];
    const events: EmittedEvent[] = [];
    for (const c of candidates) {
      const receipt = await this.#execute(
        c,
        height,
        block.header.timestamp,
        head,
        state,
        index,
        consumedIds,
        ops,
        events,
      );
      receipts.push(receipt);
      const bytes = encodeReceipt(receipt);
      encoded.push(bytes);
      ops.push({ type: 'put', key: batchKeys.receipt(height, c.position), value: bytes });
    }
    // ADR 0133: the block's effects, recorded before the executor's own entries below join `state`
    // (the block's layer), so a node catching up can apply them instead of executing the block.
    const effects =
      this.#o.store.blockEffects && encoded.length > 0
        ? encodeEffectsRecord(state.writes(), index.writes(), events, encoded)
        : undefined;
    this.#commitToOutcome(height, encoded, effects, state, ops);
    return { receipts, events };
  }

  /**
   * The executor's own state entries of a block with transactions: its receipts root (ADR 0123: the
   * state commits to what was decided, so a certified state proves a transaction's outcome, not only its
   * inclusion) and the digest of its effects record, which is stored beside the block (ADR 0133). A
   * block without transactions has nothing to prove.
   */
  #commitToOutcome(
    height: number,
    receipts: readonly Uint8Array[],
    effects: Uint8Array | undefined,
    state: Overlay,
    ops: BatchOp[],
  ): void {
    if (receipts.length === 0) return;
    if (this.#o.store.receiptsRoots) {
      state.put(receiptsRootKey(height), encodeReceiptsRootValue(txRoot(receipts)));
    }
    if (effects !== undefined) {
      state.put(blockEffectsKey(height), effectsDigestValue(effects));
      ops.push({ type: 'put', key: keys.effects(height), value: effects });
    }
  }

  /** The flat state ('S') and index ('I') records of a batch's writes. */
  #pushStateOps(
    ops: BatchOp[],
    stateWrites: readonly { key: Uint8Array; value: Uint8Array | undefined }[],
    index: Overlay,
  ): void {
    for (const w of stateWrites) {
      const key = batchKey(Prefix.state, w.key);
      ops.push(w.value === undefined ? { type: 'del', key } : { type: 'put', key, value: w.value });
    }
    for (const w of index.writes()) {
      const key = batchKey(Prefix.index, w.key);
      ops.push(w.value === undefined ? { type: 'del', key } : { type: 'put', key, value: w.value });
    }
  }

  #notify(result: BlockOutcome): void {
    try {
      this.#o.onCommitted?.(result);
    } catch (e) {
      (this.#o.onListenerError ?? ((err) => console.error('onCommitted listener failed', err)))(e, result);
    }
  }

  /**
   * The ids among `candidates` that the committed transaction index already holds (DUPLICATE_TX).
   *
   * Only a transaction whose nonce is at or below its sender's committed nonce can be there: an id in
   * the index belongs to a committed transaction that consumed its nonce, and the id covers sender and
   * nonce (ADR 0004), so that sender's committed nonce is at least this nonce. For the usual block
   * (every nonce above the committed one) this skips the index read entirely instead of a LevelDB
   * getMany of every id; the receipts are the same as reading every id (rules.test.ts).
   */
  async #committedIds(
    candidates: readonly Candidate[],
    /** Where nonces are read: the committed state, or a certified range's overlay (ADR 0115). */
    nonces: { get(key: Uint8Array): Promise<Uint8Array | undefined> } = this.#o.store.state,
    /** Ids already consumed and not yet in the index (earlier blocks of the range); added to. */
    committed: Set<string> = new Set<string>(),
  ): Promise<Set<string>> {
    const present = candidates.filter((c) => c.tx !== undefined);
    await this.#o.store.state.prefetch(present.map((c) => c.nonceKey!));
    const suspects: Candidate[] = [];
    for (const c of present) {
      if (c.tx!.nonce <= decodeNonce(await nonces.get(c.nonceKey!))) suspects.push(c);
    }
    if (suspects.length === 0) return committed;
    const indexed = await this.#o.store.db.getMany(suspects.map((c) => keys.tx(c.txId!)));
    suspects.forEach((c, i) => {
      if (indexed[i] !== undefined) committed.add(hex(c.txId!));
    });
    return committed;
  }

  async #execute(
    c: Candidate,
    height: number,
    blockTime: number,
    head: ChainHead,
    state: Overlay,
    index: Overlay,
    consumedIds: Set<string>,
    ops: BatchOp[],
    events: EmittedEvent[],
  ): Promise<Receipt> {
    if (c.tx === undefined || c.txId === undefined) {
      return { status: 'rejected', code: c.early ?? FrameworkRejection.MALFORMED, txId: null };
    }
    const tx = c.tx;
    const txId = c.txId;
    const idHex = hex(txId);
    const reject = (code: string): Receipt => ({ status: 'rejected', code, txId });
    // Only transactions that consume a nonce are indexed by id. A copy with a bad signature or a wrong
    // nonce is NOT indexed, or anyone could censor a transaction by getting a mangled copy (same id:
    // the id does not cover the signature) committed first.
    if (consumedIds.has(idHex)) return reject(FrameworkRejection.DUPLICATE_TX);
    if (!c.signatureOk) return reject(FrameworkRejection.BAD_SIGNATURE);
    const nk = c.nonceKey!;
    const last = decodeNonce(await state.get(nk));
    if (tx.nonce <= last) return reject(FrameworkRejection.NONCE_TOO_LOW);
    if (tx.nonce !== last + 1) return reject(FrameworkRejection.NONCE_GAP);

    // From here the nonce is consumed whatever the handler decides, so the tx cannot be replayed.
    state.put(nk, encodeNonce(tx.nonce));
    consumedIds.add(idHex);
    ops.push({ type: 'put', key: batchKeys.tx(txId), value: encodeTxLocationForBatch(height, c.position) });

    const handler = this.#o.handlers.get(tx.type);
    if (handler === undefined) return reject(FrameworkRejection.NO_HANDLER);
    const txState = state.child();
    const txIndex = index.child();
    const txEvents: ChainEvent[] = [];
    const ctx: ExecContext = {
      chainId: head.chainId,
      height,
      blockTime,
      position: c.position,
      txId,
      state: txState,
      index: txIndex,
      emit: (event) => {
        txEvents.push(event);
      },
    };
    try {
      await handler(ctx, tx);
    } catch (e) {
      if (e instanceof TxRejected) return reject(e.code);
      // A write over the size limits is a deterministic property of the transaction: reject it like
      // the handler would have, instead of halting the chain.
      if (e instanceof OverlayError) return reject(e.code);
      throw new ExecutionError(height, c.position, e);
    }
    state.absorb(txState);
    index.absorb(txIndex);
    for (const event of txEvents) events.push({ height, position: c.position, txId, event });
    return { status: 'accepted', txId };
  }
}

const hex = hexKey;

/** Why a certified range was executed instead of applied from effects records (ADR 0133). */
export type EffectsSkip =
  | 'noCitation'
  | 'missing'
  | 'citation'
  | 'header'
  | 'record'
  | 'reconfiguration'
  | 'root';

export interface EffectsRangeStats {
  /** Ranges applied from effects records, and their blocks. */
  ranges: number;
  blocks: number;
  /** Ranges executed instead, by reason. */
  skipped: Partial<Record<EffectsSkip, number>>;
}

/**
 * Framework rejections decided before the sender's nonce is consumed (#execute): such a transaction
 * is not in the transaction index. Every other outcome consumed its nonce and is.
 */
const BEFORE_NONCE: ReadonlySet<string> = new Set([
  FrameworkRejection.MALFORMED,
  FrameworkRejection.WRONG_CHAIN,
  FrameworkRejection.DUPLICATE_TX,
  FrameworkRejection.BAD_SIGNATURE,
  FrameworkRejection.NONCE_TOO_LOW,
  FrameworkRejection.NONCE_GAP,
]);

function consumedNonce(r: Receipt): boolean {
  return r.status === 'accepted' || !BEFORE_NONCE.has(r.code);
}

/** A receipt from a peer's effects record: the accepted shape read directly, any other decoded. */
function receiptOf(bytes: Uint8Array): Receipt {
  // [0, bstr(32)]: 0x82 0x00 0x58 0x20 followed by the id, one per accepted transaction.
  if (
    bytes.length === 36 &&
    bytes[0] === 0x82 &&
    bytes[1] === 0x00 &&
    bytes[2] === 0x58 &&
    bytes[3] === 0x20
  ) {
    return { status: 'accepted', txId: bytes.subarray(4) };
  }
  return decodeReceiptBytes(bytes);
}

/**
 * The changes a root height's tree update applies (ADR 0117): the pending ones since the last root
 * height, each replaced by this block's write of the same key. With k = 1 nothing is pending.
 */
function withPending(pending: readonly Write[], writes: readonly Write[]): readonly Write[] {
  if (pending.length === 0) return writes;
  const merged = new Map<string, Write>();
  for (const w of pending) merged.set(mapKey(w.key), w);
  for (const w of writes) merged.set(mapKey(w.key), w);
  return [...merged.values()];
}
