// The chain database as a whole: opening it (with the startup checks that refuse a wrong or damaged
// data directory before anything is written), creating the genesis state, the one atomic write per
// block, and the proof queries served to clients.
import {
  type Block,
  blockHash,
  type BlockHeader,
  type CommitCertificate,
  encodeCanonical,
  merkleInclusionProof,
  sha256,
} from '@vigil/consensus/wire';
import { bytesEqual, EMPTY_SUBTREE, type StateProof, valueHashOf } from '@vigil/consensus/proof/smt.ts';
import { txRoot as merkleRootOf } from '../crypto/tx-root.ts';
import { StateTreeError } from '../state-tree/errors.ts';
import { type CreatedNode, SparseMerkleTree, type TreeChange, type TreeUpdate } from '../state-tree/tree.ts';
import { type BatchOp, type ChainDb, openDb, writeBatch } from './db.ts';
import { hexKey } from '../state-tree/hex-key.ts';
import { DeferredTreeNodes } from './deferred-tree.ts';
import { EffectsStore } from './effects-store.ts';
import { StoreError } from './errors.ts';
import { keys, Prefix, subRange } from './keys.ts';
import {
  encodeBytes,
  encodeChangeList,
  encodeKeyList,
  encodeText,
  encodeUint,
  type StateChangeEntry,
} from './records.ts';
import { BlockRepository, MetaRepository, StateRepository, TxIndex } from './repositories.ts';

/**
 * Bumped on any incompatible change of the key layout or value encodings (docs/storage.md). Schema 3
 * added the 'G' records of heights applied inside a certified range (ADR 0115), schema 4 the 'D'
 * records and `treeHeight` of a state tree stored only every few blocks (ADR 0116). An older database
 * is a newer one without those records, so it is read as is and marked by the first batch that writes
 * one (an older node then refuses it instead of misreading it). Schema 5 is a chain whose state root is
 * updated every k > 1 blocks (ADR 0117): its 'D' records carry values, and `stateRootInterval` is
 * recorded; initChain records it from the start (a chain with k = 1 stays at 4). Schema 6 is a chain
 * whose state commits to every block's receipts (ADR 0123): `receiptsRoots` is recorded, and a node
 * that would not write the entries must refuse the chain, or its state roots would differ. Schema 7
 * (ADR 0130): the state machine's index records ('I') hold its alert and grantee indexes from the
 * height recorded as `indexedFrom` on: 1 for a chain created at 7, which every chain now is whatever
 * its k or receipts (those are told by their own records); the height after the head for an older
 * database, upgraded by adoptIndexes. A node that would not write those records must refuse the
 * database: blocks it applied would leave holes in the indexes that no reader could see. Schema 8
 * (ADR 0133) records `blockEffects`, 1 or 0, for every chain created at 8: with 1, every block stores
 * its effects record ('E') and writes its digest into the state, which a node that would not must
 * refuse (its state roots would differ). A schema-7 database is read as is, as a chain without them.
 */
export const SCHEMA_VERSION = 8;
/** The schema that introduced `blockEffects` (ADR 0133). */
const EFFECTS_SCHEMA = 8;
/** The schema that introduced `indexedFrom` and the indexes of ADR 0130 (renumber with it). */
const INDEXED_SCHEMA = 7;
/** Schemas this node reads. */
const READABLE_SCHEMAS: readonly number[] = [2, 3, 4, 5, 6, 7, 8];
/** Index records per batch while an older database is upgraded (adoptIndexes). */
const ADOPT_BATCH = 4096;
/** Largest state-root interval a genesis may name (ADR 0117): a proof lags at most this many blocks. */
export const MAX_STATE_ROOT_INTERVAL = 1024;

/** Blocks between two materialisations of the state tree by default (ADR 0116). */
export const DEFAULT_TREE_INTERVAL = 32;
/** Held tree nodes beyond which the next block materialises the tree whatever the interval. */
const MAX_HELD_NODES = 50_000;
/**
 * Held states still readable after a materialisation: the newest headers cite the state of a block or
 * two before them (pipelining), and /v1/proofs proves against the newest header.
 */
const KEEP_HELD_ROOTS = 4;

/** VIGIL_TREE_INTERVAL: blocks between two writes of the state tree (ADR 0116); undefined: the default. */
export function treeIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.VIGIL_TREE_INTERVAL;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new StoreError('INVALID_OPTION', `VIGIL_TREE_INTERVAL must be a whole number >= 1, not ${v}`);
  }
  return n;
}

const ZERO_HASH = new Uint8Array(32);

export interface GenesisSpec {
  chainId: string;
  /** ms since the Unix epoch. */
  genesisTime: number;
  /** Validator public keys, in validator-index order. */
  validators: readonly Uint8Array[];
  /** The initial state (from the state machine's genesisState()), as raw key/value writes. */
  state: readonly { key: Uint8Array; value: Uint8Array }[];
  /**
   * k: the state tree is updated, and a new state root computed, at heights that are multiples of k;
   * the root recorded for any other height is that of the last such height (ADR 0117). Default 1.
   */
  stateRootInterval?: number;
  /**
   * Every block with transactions writes the RFC 6962 root of its receipts into the state under
   * receiptsRootKey(height), so a certified state proves what the state machine decided for a
   * transaction, not only that a block carried it (ADR 0123). Default false (chains created before).
   */
  receiptsRoots?: boolean;
  /**
   * Every block stores its effects record and writes the record's digest into the state under
   * blockEffectsKey(height), so a node catching up can take a certified range's effects from a peer
   * instead of executing it (ADR 0133). Needs receiptsRoots. Default false (chains created before).
   */
  blockEffects?: boolean;
}

/**
 * The genesis hash commits to everything in the spec: SHA-256 of canonical CBOR
 * ["vigil/genesis/v1", chainId, genesisTime, validators, [[key, value]...] sorted by key], with k
 * appended when the state-root interval is not 1 (so every chain created before ADR 0117 keeps its hash),
 * and k followed by the text "receipts" when the state commits to receipts (ADR 0123; k is then
 * appended even when it is 1, so the two extensions never read as each other), then the text
 * "effects" when blocks commit to their effects (ADR 0133).
 */
export function genesisHash(spec: GenesisSpec): Uint8Array {
  const sorted = [...spec.state].sort((a, b) => Buffer.compare(a.key, b.key));
  const k = spec.stateRootInterval ?? 1;
  const extensions =
    spec.receiptsRoots === true
      ? spec.blockEffects === true
        ? [k, 'receipts', 'effects']
        : [k, 'receipts']
      : k !== 1
        ? [k]
        : [];
  return sha256(
    encodeCanonical([
      'vigil/genesis/v1',
      spec.chainId,
      spec.genesisTime,
      [...spec.validators],
      sorted.map((w) => [w.key, w.value]),
      ...extensions,
    ]),
  );
}

/** The height whose state a root recorded at `height` commits to, for state-root interval k (ADR 0117). */
export function rootedHeight(height: number, k: number): number {
  return height - (height % k);
}

export interface ChainHead {
  chainId: string;
  genesisHash: Uint8Array;
  validators: Uint8Array[];
  height: number;
  /** blockHash of the block at `height`; 32 zero bytes at height 0. */
  headHash: Uint8Array;
  stateRoot: Uint8Array;
}

export interface OpenOptions {
  /** Refuse a database of another chain (WRONG_CHAIN / GENESIS_MISMATCH). */
  expectChainId?: string;
  expectGenesisHash?: Uint8Array;
  treeCacheSize?: number;
  /**
   * Blocks between two writes of the state tree (ADR 0116): the nodes of the blocks between are held
   * in memory and only those still reachable are written. 1 writes every block's nodes.
   */
  treeInterval?: number;
  /** LevelDB's write buffer (bytes; ADR 0118): validators sharing a machine each take their own. */
  writeBufferBytes?: number;
  /**
   * ADR 0135: a LevelDB of its own for the blocks' effects records (ADR 0133), created if absent. Without
   * it they are written in this database, as before; records already here are read either way.
   */
  effectsPath?: string;
}

/**
 * What a block's batch writes for its state-tree update (planTree): the nodes now, or the list of
 * changed keys while the nodes are held. Passed back to commit, which applies it once the batch is
 * durable.
 */
export interface TreePlan {
  ops: BatchOp[];
  /** The oldest schema that reads `ops`. */
  schema: number;
  height: number;
  update: TreeUpdate;
  /** The nodes the batch stores (a materialisation); undefined when the update's nodes are held. */
  stored: CreatedNode[] | undefined;
  /**
   * A block between two root heights (ADR 0117): no tree update (`update` is the unchanged tree), and
   * these writes join the changes the next root height's update applies.
   */
  unrooted?: readonly TreeChange[];
  /** A materialisation of an earlier update (close): the pending changes stay pending. */
  keepPending?: boolean;
}

export class ChainStore {
  readonly db: ChainDb;
  readonly meta: MetaRepository;
  readonly blocks: BlockRepository;
  readonly txs: TxIndex;
  readonly state: StateRepository;
  readonly tree: SparseMerkleTree;
  readonly #deferred: DeferredTreeNodes;
  readonly #treeInterval: number;
  /** The height whose state tree is in the store; the tree of every later height is held. */
  #treeHeight = 0;
  /** The newest height that wrote a 'D' record since #treeHeight (0: none). */
  #lastDeferred = 0;
  /** k of ADR 0117 (recorded at initChain; 1 for chains without the record). */
  #rootInterval = 1;
  /** ADR 0123: blocks write their receipts root into the state (recorded at initChain). */
  #receiptsRoots = false;
  /** ADR 0133: blocks store their effects and commit to them (recorded at initChain, schema 8). */
  #blockEffects = false;
  /** ADR 0130: the first height whose index records are complete; undefined before the upgrade. */
  #indexedFrom: number | undefined;
  /**
   * State changes since the last root height, by hexKey, with their latest values (ADR 0117): what the
   * next root height's tree update adds, and what tamper-evident reads check such keys against.
   */
  readonly #pending = new Map<string, TreeChange>();
  /** Bumped by every committed batch: a read that spans a commit retries (verifiedState). */
  #commits = 0;
  #head: ChainHead | undefined;
  #closed = false;
  /** ADR 0135: where new effects records go, when the node keeps them apart. */
  #effects: EffectsStore | undefined;
  /** The block batch being written, if any (close() lets it finish before storing the held tree). */
  #writing: Promise<unknown> | undefined;
  /** The schema recorded in the database (initChain records SCHEMA_VERSION). */
  #schema = SCHEMA_VERSION;
  /** Called with the duration (ms) of every block's atomic, fsynced batch write (metrics). */
  onBlockWrite: ((ms: number) => void) | undefined;

  private constructor(db: ChainDb, options: OpenOptions) {
    this.db = db;
    this.meta = new MetaRepository(db);
    this.blocks = new BlockRepository(db, (h) => this.#effects?.get(h));
    this.txs = new TxIndex(db);
    this.state = new StateRepository(db);
    this.#deferred = new DeferredTreeNodes(this.state);
    this.tree = new SparseMerkleTree(
      this.#deferred,
      options.treeCacheSize !== undefined ? { cacheSize: options.treeCacheSize } : {},
    );
    const interval = options.treeInterval ?? DEFAULT_TREE_INTERVAL;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new StoreError('INVALID_OPTION', `treeInterval must be a whole number >= 1, not ${interval}`);
    }
    this.#treeInterval = interval;
  }

  /**
   * Opens (creating if absent) the database at `path` and runs the startup checks. Any failure closes
   * the database and throws a StoreError; the checks only read, so the directory is left unchanged.
   */
  static async open(path: string, options: OpenOptions = {}): Promise<ChainStore> {
    const db = await openDb(
      path,
      options.writeBufferBytes !== undefined ? { writeBufferBytes: options.writeBufferBytes } : {},
    );
    let effects: EffectsStore | undefined;
    try {
      const store = new ChainStore(db, options);
      store.#head = await store.#check(options);
      if (options.effectsPath !== undefined) {
        effects = await EffectsStore.open(options.effectsPath);
        if (store.#head !== undefined) await effects.bind(store.#head.genesisHash);
        store.#effects = effects;
      }
      return store;
    } catch (e) {
      await effects?.close();
      await db.close();
      throw e;
    }
  }

  /** The chain's head, or undefined for a database that initChain has not yet run on. */
  get head(): ChainHead | undefined {
    return this.#head;
  }

  /**
   * The height whose state tree is in the store (ADR 0116); the trees of the heights after it are held
   * in memory (rebuilt at startup from the 'D' records when the node was stopped without storing them).
   */
  get storedTreeHeight(): number {
    return this.#treeHeight;
  }

  /** k (ADR 0117): the state tree is updated at heights that are multiples of it. */
  get stateRootInterval(): number {
    return this.#rootInterval;
  }

  /** Whether every block's receipts root is part of the state (ADR 0123). */
  get receiptsRoots(): boolean {
    return this.#receiptsRoots;
  }

  /** Whether every block stores its effects record and commits to it in the state (ADR 0133). */
  get blockEffects(): boolean {
    return this.#blockEffects;
  }

  /**
   * The first height whose index records include every index of this schema (ADR 0130): the alert
   * index holds the alerts of this height on, no earlier. Undefined for a database written before
   * schema 7 until adoptIndexes has run.
   */
  get indexedFrom(): number | undefined {
    return this.#indexedFrom;
  }

  /** The state changes since the last root height, latest value per key (ADR 0117); empty when k = 1. */
  pendingChanges(): TreeChange[] {
    return [...this.#pending.values()];
  }

  requireHead(): ChainHead {
    if (this.#closed) throw new StoreError('CLOSED', 'the chain store is closed');
    if (this.#head === undefined) throw new StoreError('NOT_INITIALISED', 'the chain has no genesis yet');
    return this.#head;
  }

  async #check(options: OpenOptions): Promise<ChainHead | undefined> {
    const version = await this.meta.schemaVersion();
    if (version === undefined) {
      // An empty database is fine (initChain follows); a half-written one is not: genesis is one batch.
      for await (const _ of this.db.keys({ limit: 1 })) {
        throw new StoreError('CORRUPT_METADATA', 'records present but no schema version');
      }
      return undefined;
    }
    if (!READABLE_SCHEMAS.includes(version)) {
      throw new StoreError(
        'SCHEMA_MISMATCH',
        `database schema ${version}, this node reads ${READABLE_SCHEMAS.join(' and ')}`,
      );
    }
    this.#schema = version;
    this.#rootInterval = await this.meta.stateRootInterval();
    if (this.#rootInterval > MAX_STATE_ROOT_INTERVAL) {
      throw new StoreError('CORRUPT_METADATA', `stateRootInterval ${this.#rootInterval} out of range`);
    }
    const receipts = await this.meta.receiptsRoots();
    this.#receiptsRoots = receipts === true;
    // The record and the schema are written in one batch (initChain, adoptIndexes): one without the
    // other is damage. Schema 6 is a chain with receipts roots; from schema 7 on every chain is at 7 and
    // records 1 or 0 (ADR 0130), so that a lost record is still told from a chain without them.
    const expected = version >= INDEXED_SCHEMA ? 'recorded' : version === 6 ? 'yes' : 'no';
    const found = receipts === undefined ? 'no' : receipts ? 'yes' : 'zero';
    if (expected === 'recorded' ? found === 'no' : expected !== found) {
      throw new StoreError(
        'CORRUPT_METADATA',
        found === 'no'
          ? `schema ${version} without receiptsRoots`
          : `receiptsRoots ${receipts ? 1 : 0} recorded under schema ${version}`,
      );
    }
    const effects = await this.meta.blockEffects();
    // Written with the schema by initChain: from schema 8 on always recorded, before it never.
    if ((effects !== undefined) !== version >= EFFECTS_SCHEMA) {
      throw new StoreError(
        'CORRUPT_METADATA',
        effects !== undefined
          ? `blockEffects recorded under schema ${version}`
          : `schema ${version} without blockEffects`,
      );
    }
    if (effects === true && !this.#receiptsRoots) {
      throw new StoreError('CORRUPT_METADATA', 'blockEffects without receiptsRoots');
    }
    this.#blockEffects = effects === true;
    this.#indexedFrom = await this.meta.indexedFrom();
    if ((this.#indexedFrom !== undefined) !== version >= INDEXED_SCHEMA) {
      // Written in one batch with the schema, by initChain or adoptIndexes.
      throw new StoreError(
        'CORRUPT_METADATA',
        this.#indexedFrom !== undefined
          ? `indexedFrom recorded under schema ${version}`
          : `schema ${version} without indexedFrom`,
      );
    }
    const head: ChainHead = {
      chainId: await this.meta.chainId(),
      genesisHash: await this.meta.genesisHash(),
      validators: await this.meta.validators(),
      height: await this.meta.appliedHeight(),
      headHash: await this.meta.headHash(),
      stateRoot: await this.meta.stateRoot(),
    };
    if (options.expectChainId !== undefined && options.expectChainId !== head.chainId) {
      throw new StoreError(
        'WRONG_CHAIN',
        `data directory holds chain ${head.chainId}, not ${options.expectChainId}`,
      );
    }
    if (options.expectGenesisHash !== undefined && !bytesEqual(options.expectGenesisHash, head.genesisHash)) {
      throw new StoreError('GENESIS_MISMATCH', 'data directory holds a chain with another genesis');
    }
    if (this.#indexedFrom !== undefined && this.#indexedFrom > head.height + 1) {
      throw new StoreError('CORRUPT_METADATA', `indexedFrom ${this.#indexedFrom} above the head`);
    }
    await this.#checkBlocks(head);
    await this.#checkState(head);
    return head;
  }

  /** Blocks 1..height present (and nothing above), the head block hashing to the recorded head hash. */
  async #checkBlocks(head: ChainHead): Promise<void> {
    let expected = 1;
    for await (const h of this.blocks.heights()) {
      if (h > head.height)
        throw new StoreError('UNEXPECTED_RECORD', `block ${h} above applied height ${head.height}`);
      if (h !== expected) throw new StoreError('MISSING_RECORD', `block ${expected} is missing`);
      expected++;
    }
    if (expected !== head.height + 1) throw new StoreError('MISSING_RECORD', `block ${expected} is missing`);
    if (head.height === 0) {
      if (!bytesEqual(head.headHash, ZERO_HASH))
        throw new StoreError('CORRUPT_METADATA', 'head hash at genesis');
      return;
    }
    const block = await this.blocks.block(head.height);
    if (block === undefined) throw new StoreError('MISSING_RECORD', `block ${head.height} is missing`);
    if (!bytesEqual(blockHash(block.header), head.headHash)) {
      throw new StoreError('CORRUPT_RECORD', `block ${head.height} does not hash to the recorded head hash`);
    }
    if ((await this.blocks.certificate(head.height)) === undefined) {
      throw new StoreError('MISSING_RECORD', `commit certificate ${head.height} is missing`);
    }
    if ((await this.blocks.heightOf(head.headHash)) !== head.height) {
      throw new StoreError('MISSING_RECORD', `block hash index entry for ${head.height}`);
    }
  }

  /**
   * The recorded root is the root at the applied height; the stored tree's root node is present and
   * hashes to it; and when the tree was stored at an earlier height, the changes since rebuild the
   * applied height's root (#recoverHeldTree).
   */
  async #checkState(head: ChainHead): Promise<void> {
    const root = await this.blocks.stateRootAt(head.height);
    if (root === undefined) throw new StoreError('MISSING_RECORD', `state root of height ${head.height}`);
    if (!bytesEqual(root, head.stateRoot)) {
      throw new StoreError('CORRUPT_STATE', `state root of height ${head.height} differs from metadata`);
    }
    const treeHeight = (await this.meta.treeHeight()) ?? head.height;
    if (treeHeight > head.height) {
      throw new StoreError(
        'CORRUPT_METADATA',
        `tree height ${treeHeight} above applied height ${head.height}`,
      );
    }
    if (treeHeight > rootedHeight(head.height, this.#rootInterval)) {
      throw new StoreError(
        'CORRUPT_METADATA',
        `tree height ${treeHeight} is not a root height at or below ${head.height} (k = ${this.#rootInterval})`,
      );
    }
    this.#treeHeight = treeHeight;
    const storedRoot = treeHeight === head.height ? root : await this.blocks.stateRootAt(treeHeight);
    if (storedRoot === undefined)
      throw new StoreError('MISSING_RECORD', `state root of height ${treeHeight}`);
    await this.#checkStoredTree(storedRoot);
    if (treeHeight < head.height) await this.#recoverHeldTree(head, treeHeight, storedRoot);
  }

  /** The stored tree's root node and its children load and hash to what names them. */
  async #checkStoredTree(root: Uint8Array): Promise<void> {
    if (bytesEqual(root, EMPTY_SUBTREE)) return;
    try {
      // The root's version record, then the node (its hash recomputed), then its children at the
      // versions it names: a node's hash does not cover those addresses (ADR 0114).
      const node = await this.tree.loadRoot(root);
      if (node.kind === 'internal') {
        for (const [hash, version] of [
          [node.left, node.leftVersion],
          [node.right, node.rightVersion],
        ] as const) {
          if (!bytesEqual(hash, EMPTY_SUBTREE)) await this.tree.loadNode(hash, version);
        }
      }
    } catch (e) {
      if (e instanceof StateTreeError) throw new StoreError('CORRUPT_STATE', e.message);
      throw e;
    }
  }

  /**
   * The tree of the applied height when only an earlier one was stored (a node stopped between two
   * materialisations, ADR 0116): the stored tree plus every key the blocks since changed ('D' records)
   * is the tree of the last root height, and must hash to the recorded root. With k = 1 (schema-4 'D'
   * records: keys only) the values are the flat copy's ('S'). With k > 1 (ADR 0117) the root commits to
   * the state of the last multiple of k, and a key may have changed again after it: the records carry
   * each key's value after its block, applied in height order up to that multiple; the keys of the blocks
   * after it are the pending changes, with their current ('S') values. Built in memory and held like a
   * block's update: the checks write nothing.
   */
  async #recoverHeldTree(head: ChainHead, treeHeight: number, storedRoot: Uint8Array): Promise<void> {
    const rooted = rootedHeight(head.height, this.#rootInterval);
    const changed = new Map<string, StateChangeEntry>();
    const pending = new Map<string, Uint8Array>();
    for (let h = treeHeight + 1; h <= head.height; h++) {
      const list = await this.blocks.treeChanges(h);
      if (list === undefined) {
        const inRange = await this.blocks.rangeEndOf(h);
        throw new StoreError(
          'MISSING_RECORD',
          `state changes of height ${h} (tree stored at ${treeHeight}${inRange !== undefined ? `, ${h} in a range` : ''})`,
        );
      }
      for (const e of list) {
        if (h <= rooted) changed.set(hexKey(e.key), e);
        else pending.set(hexKey(e.key), e.key);
        // Keys alone (schema 4) are right only where the root is the head's: k = 1.
        if (e.value === undefined && rooted !== head.height)
          throw new StoreError(
            'CORRUPT_RECORD',
            `state changes of height ${h} carry no values (k = ${this.#rootInterval})`,
          );
      }
    }
    const fromFlat = [...changed.values()].filter((e) => e.value === undefined).map((e) => e.key);
    const pendingKeys = [...pending.values()];
    await this.state.prefetch([...fromFlat, ...pendingKeys]); // one round trip to LevelDB, then cache hits
    const changes: TreeChange[] = [];
    for (const e of changed.values()) {
      changes.push({
        key: e.key,
        value: e.value === undefined ? await this.state.get(e.key) : (e.value ?? undefined),
      });
    }
    if (changes.length > 0) {
      let update: TreeUpdate;
      try {
        update = await this.tree.update(storedRoot, changes, rooted);
      } catch (e) {
        if (e instanceof StateTreeError) throw new StoreError('CORRUPT_STATE', e.message);
        throw e;
      }
      if (!bytesEqual(update.root, head.stateRoot)) {
        throw new StoreError(
          'CORRUPT_STATE',
          `the state changes of heights ${treeHeight + 1}..${rooted} on the tree of ${treeHeight} do not give the recorded root`,
        );
      }
      this.#deferred.hold(rooted, update);
    } else if (!bytesEqual(storedRoot, head.stateRoot)) {
      throw new StoreError('CORRUPT_STATE', `the tree stored at ${treeHeight} is not the recorded root's`);
    }
    for (const key of pendingKeys) this.#pending.set(hexKey(key), { key, value: await this.state.get(key) });
    this.#lastDeferred = head.height;
  }

  /** Creates the chain: metadata, genesis state, its tree and root at height 0, in one durable batch. */
  async initChain(spec: GenesisSpec): Promise<ChainHead> {
    if (this.#closed) throw new StoreError('CLOSED', 'the chain store is closed');
    if (this.#head !== undefined) {
      throw new StoreError('ALREADY_INITIALISED', `the database already holds chain ${this.#head.chainId}`);
    }
    const k = spec.stateRootInterval ?? 1;
    if (!Number.isSafeInteger(k) || k < 1 || k > MAX_STATE_ROOT_INTERVAL) {
      throw new StoreError(
        'INVALID_OPTION',
        `stateRootInterval must be a whole number from 1 to ${MAX_STATE_ROOT_INTERVAL}, not ${k}`,
      );
    }
    const receiptsRoots = spec.receiptsRoots === true;
    const blockEffects = spec.blockEffects === true;
    // The digest commits to the receipts too, and a node catching up from effects writes the receipts
    // root from them: without receipts roots a peer's receipts would go unchecked.
    if (blockEffects && !receiptsRoots) {
      throw new StoreError('INVALID_OPTION', 'blockEffects needs receiptsRoots (ADR 0133)');
    }
    // The oldest schema that reads this chain: 8 for every chain, which records blockEffects either way
    // (ADR 0133), and every block writes the indexes of ADR 0130 (7); before those: 4 for k = 1, 5 for
    // k > 1, 6 with receipts roots, their own records saying which.
    const schema = SCHEMA_VERSION;
    const update = await this.tree.update(
      EMPTY_SUBTREE,
      spec.state.map((w) => ({ key: w.key, value: w.value })),
      0,
    );
    const head: ChainHead = {
      chainId: spec.chainId,
      genesisHash: genesisHash(spec),
      validators: [...spec.validators],
      height: 0,
      headHash: ZERO_HASH,
      stateRoot: update.root,
    };
    const ops: BatchOp[] = [
      // k > 1, receipts roots and the indexes of ADR 0130 must be refused by a node that would ignore them.
      { type: 'put', key: keys.meta('schemaVersion'), value: encodeUint(schema) },
      { type: 'put', key: keys.meta('indexedFrom'), value: encodeUint(1) },
      ...(k !== 1
        ? [{ type: 'put', key: keys.meta('stateRootInterval'), value: encodeUint(k) } satisfies BatchOp]
        : []),
      { type: 'put', key: keys.meta('receiptsRoots'), value: encodeUint(receiptsRoots ? 1 : 0) },
      { type: 'put', key: keys.meta('blockEffects'), value: encodeUint(blockEffects ? 1 : 0) },
      { type: 'put', key: keys.meta('chainId'), value: encodeText(head.chainId) },
      { type: 'put', key: keys.meta('genesisHash'), value: encodeBytes(head.genesisHash) },
      { type: 'put', key: keys.meta('genesisTime'), value: encodeUint(spec.genesisTime) },
      { type: 'put', key: keys.meta('validators'), value: encodeKeyList(head.validators) },
      { type: 'put', key: keys.stateRoot(0), value: encodeBytes(head.stateRoot) },
      ...ChainStore.headOps(0, ZERO_HASH, head.stateRoot),
      ...ChainStore.treeOps(update),
      ...spec.state.map((w): BatchOp => ({ type: 'put', key: keys.state(w.key), value: w.value })),
    ];
    await writeBatch(this.db, ops);
    await this.#effects?.bind(head.genesisHash);
    this.#head = head;
    this.#treeHeight = 0;
    this.#rootInterval = k;
    this.#receiptsRoots = receiptsRoots;
    this.#blockEffects = blockEffects;
    this.#indexedFrom = 1;
    this.#schema = schema;
    this.state.committed(spec.state);
    return head;
  }

  /**
   * Upgrades a database written before schema 7 (ADR 0130), before any block is applied: writes the
   * index records `writes` (what the caller, the state machine, derives from the current state), then
   * in a last fsynced batch `indexedFrom` = head + 1 and schema 7. The records are derived data and
   * writing one twice is harmless, so a node stopped before the last batch writes them all again at its
   * next start. Returns the number of records written. Nothing to do on a schema-7 database.
   */
  async adoptIndexes(
    writes:
      | AsyncIterable<{ key: Uint8Array; value: Uint8Array }>
      | Iterable<{ key: Uint8Array; value: Uint8Array }>,
    /**
     * Index key prefixes whose records are deleted first: what `writes` derives in full, so that records
     * left by an earlier, interrupted upgrade of a state since changed (by an older node) do not stay.
     */
    replace: readonly Uint8Array[] = [],
  ): Promise<number> {
    const head = this.requireHead();
    if (this.#indexedFrom !== undefined) return 0;
    for (const prefix of replace) await this.db.clear(subRange(Prefix.index, prefix));
    let ops: BatchOp[] = [];
    let count = 0;
    for await (const w of writes) {
      ops.push({ type: 'put', key: keys.index(w.key), value: w.value });
      count++;
      if (ops.length >= ADOPT_BATCH) {
        await writeBatch(this.db, ops);
        ops = [];
      }
    }
    const from = head.height + 1;
    ops.push(
      { type: 'put', key: keys.meta('indexedFrom'), value: encodeUint(from) },
      // Schema 7 records it either way (#check): 1 came with schema 6, 0 is what its absence meant.
      { type: 'put', key: keys.meta('receiptsRoots'), value: encodeUint(this.#receiptsRoots ? 1 : 0) },
      // Schema 8 records blockEffects either way: an older chain has none (ADR 0133).
      { type: 'put', key: keys.meta('blockEffects'), value: encodeUint(0) },
      { type: 'put', key: keys.meta('schemaVersion'), value: encodeUint(SCHEMA_VERSION) },
    );
    await writeBatch(this.db, ops);
    this.#indexedFrom = from;
    this.#schema = SCHEMA_VERSION;
    return count;
  }

  /**
   * The tree records of the block (or range) ending at `height` (ADR 0116). Every `treeInterval`
   * blocks, or when many nodes are held, or when asked (`materialise`, a certified range), the batch
   * stores the nodes under the new root that are not stored yet, the root's version and the new
   * `treeHeight`, and drops the 'D' records since the last one. Otherwise it stores only the list of
   * changed keys ('D') and the update's nodes are held in memory once the batch is durable.
   */
  planTree(
    height: number,
    update: TreeUpdate,
    /** The block's own state writes (its 'D' record when the nodes are held). */
    changes: readonly TreeChange[],
    options: { materialise?: boolean } = {},
  ): TreePlan {
    if (height % this.#rootInterval !== 0) {
      throw new StoreError(
        'INVALID_OPTION',
        `height ${height} is not a root height (k = ${this.#rootInterval})`,
      );
    }
    const due =
      options.materialise === true ||
      height - this.#treeHeight >= this.#treeInterval ||
      this.#deferred.size + update.nodes.length > MAX_HELD_NODES;
    if (!due) return { height, update, stored: undefined, ...this.#changesRecord(height, changes) };
    return this.#materialisePlan(height, update);
  }

  /**
   * The records of a block at a height that is not a multiple of k (ADR 0117): no tree update, its
   * changes (with values) in a 'D' record; once durable they join the pending changes.
   */
  planUnrooted(height: number, changes: readonly TreeChange[]): TreePlan {
    if (height % this.#rootInterval === 0) {
      throw new StoreError('INVALID_OPTION', `height ${height} is a root height (k = ${this.#rootInterval})`);
    }
    const head = this.requireHead();
    const version = rootedHeight(height, this.#rootInterval);
    const update: TreeUpdate = { root: head.stateRoot, rootVersion: version, nodes: [] };
    return { height, update, stored: undefined, unrooted: changes, ...this.#changesRecord(height, changes) };
  }

  /** A block's 'D' record: keys alone with k = 1 (schema 4), keys and values with k > 1 (schema 5). */
  #changesRecord(height: number, changes: readonly TreeChange[]): { ops: BatchOp[]; schema: number } {
    const value =
      this.#rootInterval === 1 ? encodeKeyList(changes.map((c) => c.key)) : encodeChangeList(changes);
    return {
      schema: this.#rootInterval === 1 ? 4 : 5,
      ops: [
        { type: 'put', key: keys.treeChanges(height), value },
        { type: 'put', key: keys.meta('treeHeight'), value: encodeUint(this.#treeHeight) },
      ],
    };
  }

  #materialisePlan(height: number, update: TreeUpdate): TreePlan {
    const stored = this.#deferred.unstoredUnder(update.root, update.rootVersion, update);
    const ops: BatchOp[] = [];
    for (const n of stored) ops.push({ type: 'put', key: keys.treeNode(n.version, n.hash), value: n.bytes });
    if (!bytesEqual(update.root, EMPTY_SUBTREE)) {
      ops.push({
        type: 'put',
        key: keys.treeRootVersion(update.root),
        value: encodeUint(update.rootVersion),
      });
    }
    // Always recorded: a range that materialises right after another materialisation must still move
    // it, or a restart would look for 'D' records of the range's heights.
    ops.push({ type: 'put', key: keys.meta('treeHeight'), value: encodeUint(height) });
    // Only up to this height: the records of later blocks (a clean close between two root heights,
    // ADR 0117) name the pending changes.
    for (let h = this.#treeHeight + 1; h <= Math.min(height, this.#lastDeferred); h++) {
      ops.push({ type: 'del', key: keys.treeChanges(h) });
    }
    return { height, update, stored, schema: 2, ops };
  }

  /** Applies a tree plan once its batch is durable. */
  #treeWritten(plan: TreePlan): void {
    if (plan.unrooted !== undefined) {
      for (const c of plan.unrooted) this.#pending.set(hexKey(c.key), c);
      this.#lastDeferred = plan.height;
      return;
    }
    // A tree update at a root height applied every pending change (the caller merged them in).
    if (plan.keepPending !== true) this.#pending.clear();
    if (plan.stored === undefined) {
      this.#deferred.hold(plan.height, plan.update);
      this.#lastDeferred = plan.height;
      return;
    }
    this.#deferred.materialised(plan.height, plan.stored, KEEP_HELD_ROOTS);
    if (this.#lastDeferred <= plan.height) this.#lastDeferred = 0;
    this.#treeHeight = plan.height;
  }

  /** Whether the state after `height` can be read and proved (its tree stored or held). */
  async hasStateAt(height: number): Promise<boolean> {
    const head = this.requireHead();
    if (height > head.height) return false;
    const root = height === head.height ? head.stateRoot : await this.blocks.stateRootAt(height);
    return root !== undefined && (await this.#deferred.hasRoot(root));
  }

  /** The records of a state-tree update: its nodes, and its root's version (any root but the empty one). */
  static treeOps(update: TreeUpdate): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const n of update.nodes)
      ops.push({ type: 'put', key: keys.treeNode(n.version, n.hash), value: n.bytes });
    // Written whenever the root is not empty: a root the update kept is rewritten with the same value.
    if (!bytesEqual(update.root, EMPTY_SUBTREE)) {
      ops.push({
        type: 'put',
        key: keys.treeRootVersion(update.root),
        value: encodeUint(update.rootVersion),
      });
    }
    return ops;
  }

  /** The metadata records that move the head. */
  static headOps(height: number, headHash: Uint8Array, stateRoot: Uint8Array): BatchOp[] {
    return [
      { type: 'put', key: keys.meta('appliedHeight'), value: encodeUint(height) },
      { type: 'put', key: keys.meta('headHash'), value: encodeBytes(headHash) },
      { type: 'put', key: keys.meta('stateRoot'), value: encodeBytes(stateRoot) },
    ];
  }

  /**
   * Writes one block's records atomically and durably, then moves the in-memory head. The batch must
   * contain the head records for `next` (headOps); the executor builds it.
   */
  async commit(
    ops: BatchOp[],
    next: ChainHead,
    /** The state writes among `ops`, if the caller has them (saves a scan of every op). */
    stateWrites?: readonly { key: Uint8Array; value: Uint8Array | undefined }[],
    /** The oldest schema that can read `ops`: recorded in the same batch if the database's is older. */
    schema = 2,
    /** The block's state-tree plan (planTree), applied once the batch is durable. */
    tree?: TreePlan,
  ): Promise<void> {
    this.requireHead();
    if (schema > this.#schema) {
      ops.push({ type: 'put', key: keys.meta('schemaVersion'), value: encodeUint(schema) });
    }
    // ADR 0135: the effects records go to their own store once the block is durable (a cache for block
    // sync: the digest in this batch is what commits to each).
    const records: BatchOp[] = [];
    if (this.#effects !== undefined) {
      const rest: BatchOp[] = [];
      for (const op of ops) (op.key[0] === Prefix.effects ? records : rest).push(op);
      ops = rest;
    }
    const t0 = performance.now();
    const written = writeBatch(this.db, ops);
    this.#writing = written.catch(() => undefined);
    await written;
    if (records.length > 0) this.#effects?.write(records);
    const ms = performance.now() - t0;
    this.#commits++;
    if (schema > this.#schema) this.#schema = schema;
    if (tree !== undefined) this.#treeWritten(tree);
    this.#head = next;
    this.state.committed(
      stateWrites ??
        ops
          .filter((op) => op.key[0] === Prefix.state)
          .map((op) => ({ key: op.key.subarray(1), value: op.type === 'put' ? op.value : undefined })),
    );
    // The metrics hook runs last and cannot fail the commit: the batch is durable, and a throw before
    // the head moved (as this call once was placed) left memory one block behind the disk, so the block
    // looked unapplied (its applyBlock rejected, and the same height was accepted again).
    try {
      this.onBlockWrite?.(ms);
    } catch {
      // A metrics listener's fault; the block is committed.
    }
  }

  /**
   * A state value read from its flat copy ('S'), checked against the state tree under the head's root:
   * every node on the path hashes to its parent (loadNode), the leaf's valueHash is SHA-256 of the
   * value it holds, and the flat copy equals that value. Any difference is CORRUPT_STATE, so a damaged
   * or tampered record is never served (the API's reads; the executor reads the flat copy directly,
   * docs/reliability.md "Tamper evidence").
   */
  async verifiedState(key: Uint8Array): Promise<Uint8Array | undefined> {
    for (let attempt = 0; ; attempt++) {
      const root = this.requireHead().stateRoot;
      const commits = this.#commits;
      const flat = await this.state.get(key);
      const problem = await this.#stateProblem(root, key, flat);
      if (problem === undefined) return flat;
      // A block committed between the two reads moves the flat copy past `root` (or past the pending
      // value, ADR 0117, where the root stays): read again.
      if (attempt < 2 && commits !== this.#commits) continue;
      throw new StoreError('CORRUPT_STATE', `state key ${Buffer.from(key).toString('hex')}: ${problem}`);
    }
  }

  /** Checks one (key, value) of the flat copy (e.g. from a range scan) as verifiedState does. */
  async verifyStateEntry(key: Uint8Array, value: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const root = this.requireHead().stateRoot;
      const commits = this.#commits;
      const problem = await this.#stateProblem(root, key, value);
      if (problem === undefined) return;
      if (attempt < 2 && commits !== this.#commits) continue;
      // A scan can return a value that a block committed since has replaced: that value was committed
      // at an earlier height, not damaged. Only the value still on disk failing the check is corruption.
      const current = await this.state.get(key);
      if (current === undefined || !bytesEqual(current, value)) return;
      throw new StoreError('CORRUPT_STATE', `state key ${Buffer.from(key).toString('hex')}: ${problem}`);
    }
  }

  async #stateProblem(
    root: Uint8Array,
    key: Uint8Array,
    flat: Uint8Array | undefined,
  ): Promise<string | undefined> {
    // Changed since the last root height (ADR 0117): no root covers the value yet; it must be the one
    // execution wrote (after a restart, the one read back at startup).
    // (Nothing is pending with k = 1: no key conversion on that path.)
    const pending = this.#pending.size === 0 ? undefined : this.#pending.get(hexKey(key));
    if (pending !== undefined) {
      const same =
        pending.value === undefined
          ? flat === undefined
          : flat !== undefined && bytesEqual(flat, pending.value);
      return same ? undefined : 'the flat copy differs from the value its block wrote';
    }
    let proven: { value: Uint8Array | undefined; proof: StateProof };
    try {
      proven = await this.tree.prove(root, key);
    } catch (e) {
      if (e instanceof StateTreeError) return e.message;
      throw e;
    }
    const leaf = proven.proof.leaf;
    if (
      proven.value !== undefined &&
      leaf !== null &&
      !bytesEqual(valueHashOf(proven.value), leaf.valueHash)
    ) {
      return 'the tree leaf holds a value that does not match its hash';
    }
    if (
      proven.value === undefined ? flat !== undefined : flat === undefined || !bytesEqual(flat, proven.value)
    ) {
      return 'the flat copy differs from the state tree';
    }
    return undefined;
  }

  /** A proof of `key`'s value (or absence) in the state after `height` (default: the head). */
  async proveState(
    key: Uint8Array,
    height?: number,
  ): Promise<{
    height: number;
    /** The height whose state the root commits to: h - (h mod k) (ADR 0117); h when k = 1. */
    asOf: number;
    root: Uint8Array;
    value: Uint8Array | undefined;
    proof: StateProof;
  }> {
    const head = this.requireHead();
    const h = height ?? head.height;
    const root = h === head.height ? head.stateRoot : await this.blocks.stateRootAt(h);
    if (root === undefined && h < head.height) {
      const end = await this.blocks.rangeEndOf(h);
      if (end !== undefined) {
        throw new StoreError(
          'STATE_NOT_RETAINED',
          `height ${h} was applied inside the certified range ending at ${end}: its state was never materialised`,
        );
      }
    }
    if (root === undefined || h > head.height)
      throw new StoreError('MISSING_RECORD', `no state root at ${h}`);
    if (!(await this.#deferred.hasRoot(root))) {
      throw new StoreError(
        'STATE_NOT_RETAINED',
        `the state tree of height ${h} was held in memory and given up: it is stored every ${this.#treeInterval} blocks (ADR 0116)`,
      );
    }
    try {
      const { value, proof } = await this.tree.prove(root, key);
      return { height: h, asOf: rootedHeight(h, this.#rootInterval), root, value, proof };
    } catch (e) {
      // A materialisation between two reads of the walk gave this held state up.
      if (e instanceof StateTreeError && e.code === 'MISSING_NODE' && !(await this.#deferred.hasRoot(root))) {
        throw new StoreError(
          'STATE_NOT_RETAINED',
          `the state tree of height ${h} was given up while proving`,
        );
      }
      throw e;
    }
  }

  /**
   * An RFC 6962 inclusion proof of a committed transaction in its block, with the header and the
   * commit certificate that make it checkable by a client holding only the validator set.
   */
  async proveTransaction(txId: Uint8Array): Promise<
    | {
        height: number;
        index: number;
        txBytes: Uint8Array;
        proof: Uint8Array[];
        header: BlockHeader;
        certificate: CommitCertificate;
      }
    | undefined
  > {
    const loc = await this.txs.locate(txId);
    if (loc === undefined) return undefined;
    const block: Block | undefined = await this.blocks.block(loc.height);
    const certificate = await this.blocks.certificate(loc.height);
    if (block === undefined || certificate === undefined) {
      throw new StoreError('MISSING_RECORD', `block ${loc.height} of an indexed transaction`);
    }
    return {
      height: loc.height,
      index: loc.position,
      txBytes: block.txs[loc.position]!,
      proof: merkleInclusionProof(block.txs, loc.position),
      header: block.header,
      certificate,
    };
  }

  /**
   * The receipt of transaction `position` of block `height` with its RFC 6962 audit path to the block's
   * receipts root, which a chain with receipts roots keeps in the state (ADR 0123). Undefined on a chain
   * without them: a path to a root nothing certifies would prove nothing.
   */
  async proveReceipt(
    height: number,
    position: number,
    /** The block's txCount when the caller has its header (saves reading the block again). */
    txCount?: number,
  ): Promise<{ receipt: Uint8Array; proof: Uint8Array[]; root: Uint8Array } | undefined> {
    if (!this.#receiptsRoots) return undefined;
    const count = txCount ?? (await this.blocks.block(height))?.header.txCount;
    const receipts = await this.txs.receiptBytesOf(height);
    if (count === undefined || receipts.length !== count || position >= receipts.length) {
      throw new StoreError('MISSING_RECORD', `receipts of block ${height}`);
    }
    return {
      receipt: receipts[position]!,
      proof: merkleInclusionProof(receipts, position),
      // node:crypto's RFC 6962 root: the function execution used (tx-root.test.ts checks it is wire's).
      root: merkleRootOf(receipts),
    };
  }

  /**
   * Stores the held tree of the applied height (the batch a materialising block would write), so that a
   * node stopped cleanly restarts without rebuilding it. A node killed instead rebuilds it at startup.
   */
  async #materialiseHead(): Promise<void> {
    const head = this.#head;
    if (head === undefined) return;
    // The held tree is that of the last root height (ADR 0117; the head's own with k = 1).
    const at = rootedHeight(head.height, this.#rootInterval);
    if (at <= this.#treeHeight) return;
    const version = await this.#deferred.getRootVersion(head.stateRoot);
    if (version === undefined) return;
    const update: TreeUpdate = { root: head.stateRoot, rootVersion: version, nodes: [] };
    const plan: TreePlan = { ...this.#materialisePlan(at, update), keepPending: true };
    await writeBatch(this.db, plan.ops);
    this.#treeWritten(plan);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Refuses commits from now on; one already writing finishes first, so the held tree stored here
    // is the one its batch left (a materialising batch landing after this one would leave treeHeight
    // behind the head with no 'D' records to rebuild from).
    this.#closed = true;
    await this.#writing;
    try {
      await this.#materialiseHead();
    } catch {
      // Nothing is lost: the 'D' records are still there, and the next start rebuilds the held tree.
    } finally {
      await this.db.close();
      await this.#effects?.close();
    }
  }

  /** ADR 0135: effects records whose write to their own store failed (served as absent). */
  get effectsWritesLost(): number {
    return this.#effects?.writesLost ?? 0;
  }

  /** Resolves when the effects records of every committed block have been handed to their store. */
  effectsFlushed(): Promise<void> {
    return this.#effects?.flushed() ?? Promise.resolve();
  }
}
