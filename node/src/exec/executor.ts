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
import { encodeReceiptsRootValue, receiptsRootKey } from '@vigil/consensus/proof/receipts.ts';
import type { ChainHead, ChainStore } from '../store/chain-store.ts';
import { rootedHeight, ChainStore as Store } from '../store/chain-store.ts';
import type { BatchOp } from '../store/db.ts';
import { batchKey, keys, Prefix } from '../store/keys.ts';
import { encodeBytes, encodeReceipt, encodeTxLocation, encodeUint, type Receipt } from '../store/records.ts';
import type { BatchVerifier, SignatureCheck } from '../verify-pool/types.ts';
import { decodeNonce, encodeNonce, nonceKey } from './accounts.ts';
import { storedBlockBytes } from './block-bytes.ts';
import { BlockRejected, ExecutionError, FrameworkRejection } from './block-errors.ts';
import { TxRejected } from './errors.ts';
import { Overlay, OverlayError, type Write } from './overlay.ts';
import { mapKey } from '../store/map-key.ts';
import { txRoot } from '../crypto/tx-root.ts';
import { decodeTx } from './tx-envelope.ts';
import type { ChainEvent, ExecContext, HandlerRegistry } from './types.ts';
import { hexKey } from '../state-tree/hex-key.ts';

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
    const run = this.#queue.then(() => this.#apply(block, certificate, options));
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

  async #apply(block: Block, certificate: CommitCertificate, options: ApplyOptions): Promise<BlockResult> {
    const store = this.#o.store;
    const head = store.requireHead();
    const hash = blockHash(block.header);
    const id = hex(hash);
    const early = this.#preverified.get(id);
    this.#preverified.delete(id);
    await this.#checkHeader(head, block, certificate, this.#rootOf(block, early));
    const height = block.header.height;
    const { candidates, verified } = await (options.trustCertified || early === undefined
      ? this.#prepare(head, block, options)
      : early.work);
    const committedIds = await this.#committedIds(candidates);

    const state = new Overlay((key, id) => store.state.get(key, id));
    const index = new Overlay((key) => store.state.getIndex(key));
    const ops: BatchOp[] = [];
    const layers = { state, index, consumedIds: committedIds };
    const { receipts, events } = await this.#executeAll(block, head, candidates, layers, ops);

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
    await store.commit(
      ops,
      { ...head, height, headHash: hash, stateRoot: update.root },
      stateWrites,
      tree.schema,
      tree,
    );
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
    // One overlay for the whole range: each block reads what the earlier ones wrote, and the tree and
    // the flat state see each key once, with its last value.
    const state = new Overlay((key, id) => store.state.get(key, id));
    const index = new Overlay((key) => store.state.getIndex(key));
    const ops: BatchOp[] = [];
    const outcomes: BlockOutcome[] = [];
    // Roots that headers in this range claim for heights inside it: never computed here, so all a later
    // header can be checked against is what an earlier one claimed.
    const claims = new Map<number, Uint8Array>();
    const consumed = new Set<string>();
    const votes = await this.#verifyVotes(start, items.slice(0, maxBlocks));
    let head = start;
    let txs = 0;
    for (const { block, certificate } of items) {
      if (outcomes.length >= maxBlocks) break;
      if (outcomes.length > 0 && txs + block.txs.length > maxTxs) break;
      const hash = blockHash(block.header);
      try {
        await this.#checkHeader(
          head,
          block,
          certificate,
          txRoot(block.txs),
          async (s, claimed) => {
            if (s <= start.height) return this.#storedRootOk(s, claimed);
            const earlier = claims.get(s);
            if (earlier !== undefined) return bytesEqual(earlier, claimed);
            claims.set(s, claimed);
            return true;
          },
          votes,
        );
      } catch (e) {
        // Not the first: end the range here; the next call meets this block first and throws.
        if (e instanceof BlockRejected && outcomes.length > 0) break;
        throw e;
      }
      const height = block.header.height;
      const { candidates } = await this.#prepare(head, block, { trustCertified: true });
      await this.#committedIds(candidates, state, consumed);
      const layers = { state, index, consumedIds: consumed };
      const { receipts, events } = await this.#executeAll(block, head, candidates, layers, ops);
      ops.push(
        { type: 'put', key: keys.block(height), value: storedBlockBytes(block) },
        { type: 'put', key: keys.certificate(height), value: encodeCommitCertificate(certificate) },
        { type: 'put', key: keys.blockHash(hash), value: encodeUint(height) },
      );
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

  /** A certified block applied on its own (live execution's path, signatures trusted) as a range of one. */
  async #applyAlone(item: CertifiedBlock): Promise<RangeResult> {
    const r = await this.#apply(item.block, item.certificate, { trustCertified: true });
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
      ops.push({ type: 'put', key: keys.receipt(height, c.position), value: bytes });
    }
    // ADR 0123: the state commits to what was decided, so a certified state proves a transaction's
    // outcome, not only its inclusion. A block without transactions has nothing to prove.
    if (this.#o.store.receiptsRoots && encoded.length > 0) {
      state.put(receiptsRootKey(height), encodeReceiptsRootValue(txRoot(encoded)));
    }
    return { receipts, events };
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
    ops.push({ type: 'put', key: keys.tx(txId), value: encodeTxLocation(height, c.position) });

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
