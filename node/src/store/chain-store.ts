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
import { StateTreeError } from '../state-tree/errors.ts';
import { SparseMerkleTree, type TreeUpdate } from '../state-tree/tree.ts';
import { type BatchOp, type ChainDb, openDb, writeBatch } from './db.ts';
import { StoreError } from './errors.ts';
import { keys, Prefix } from './keys.ts';
import { encodeBytes, encodeKeyList, encodeText, encodeUint } from './records.ts';
import { BlockRepository, MetaRepository, StateRepository, TxIndex } from './repositories.ts';

/**
 * Bumped on any incompatible change of the key layout or value encodings (docs/storage.md). Schema 3
 * added the 'G' records of heights applied inside a certified range (ADR 0115); a schema-2 database is
 * a schema-3 one without them, so it is read as is and marked 3 by the first batch that writes one
 * (an older node then refuses it instead of misreading it).
 */
export const SCHEMA_VERSION = 3;
/** Schemas this node reads. */
const READABLE_SCHEMAS: readonly number[] = [2, 3];

const ZERO_HASH = new Uint8Array(32);

export interface GenesisSpec {
  chainId: string;
  /** ms since the Unix epoch. */
  genesisTime: number;
  /** Validator public keys, in validator-index order. */
  validators: readonly Uint8Array[];
  /** The initial state (from the state machine's genesisState()), as raw key/value writes. */
  state: readonly { key: Uint8Array; value: Uint8Array }[];
}

/**
 * The genesis hash commits to everything in the spec: SHA-256 of canonical CBOR
 * ["vigil/genesis/v1", chainId, genesisTime, validators, [[key, value]...] sorted by key].
 */
export function genesisHash(spec: GenesisSpec): Uint8Array {
  const sorted = [...spec.state].sort((a, b) => Buffer.compare(a.key, b.key));
  return sha256(
    encodeCanonical([
      'vigil/genesis/v1',
      spec.chainId,
      spec.genesisTime,
      [...spec.validators],
      sorted.map((w) => [w.key, w.value]),
    ]),
  );
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
}

export class ChainStore {
  readonly db: ChainDb;
  readonly meta: MetaRepository;
  readonly blocks: BlockRepository;
  readonly txs: TxIndex;
  readonly state: StateRepository;
  readonly tree: SparseMerkleTree;
  #head: ChainHead | undefined;
  #closed = false;
  /** The schema recorded in the database (initChain records SCHEMA_VERSION). */
  #schema = SCHEMA_VERSION;
  /** Called with the duration (ms) of every block's atomic, fsynced batch write (metrics). */
  onBlockWrite: ((ms: number) => void) | undefined;

  private constructor(db: ChainDb, head: ChainHead | undefined, treeCacheSize?: number) {
    this.db = db;
    this.meta = new MetaRepository(db);
    this.blocks = new BlockRepository(db);
    this.txs = new TxIndex(db);
    this.state = new StateRepository(db);
    this.tree = new SparseMerkleTree(
      this.state,
      treeCacheSize !== undefined ? { cacheSize: treeCacheSize } : {},
    );
    this.#head = head;
  }

  /**
   * Opens (creating if absent) the database at `path` and runs the startup checks. Any failure closes
   * the database and throws a StoreError; the checks only read, so the directory is left unchanged.
   */
  static async open(path: string, options: OpenOptions = {}): Promise<ChainStore> {
    const db = await openDb(path);
    try {
      const store = new ChainStore(db, undefined, options.treeCacheSize);
      store.#head = await store.#check(options);
      return store;
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /** The chain's head, or undefined for a database that initChain has not yet run on. */
  get head(): ChainHead | undefined {
    return this.#head;
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

  /** The recorded root is the root at the applied height, and its node is present and hashes to it. */
  async #checkState(head: ChainHead): Promise<void> {
    const root = await this.blocks.stateRootAt(head.height);
    if (root === undefined) throw new StoreError('MISSING_RECORD', `state root of height ${head.height}`);
    if (!bytesEqual(root, head.stateRoot)) {
      throw new StoreError('CORRUPT_STATE', `state root of height ${head.height} differs from metadata`);
    }
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

  /** Creates the chain: metadata, genesis state, its tree and root at height 0, in one durable batch. */
  async initChain(spec: GenesisSpec): Promise<ChainHead> {
    if (this.#closed) throw new StoreError('CLOSED', 'the chain store is closed');
    if (this.#head !== undefined) {
      throw new StoreError('ALREADY_INITIALISED', `the database already holds chain ${this.#head.chainId}`);
    }
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
      { type: 'put', key: keys.meta('schemaVersion'), value: encodeUint(SCHEMA_VERSION) },
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
    this.#head = head;
    this.state.committed(spec.state);
    return head;
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
  ): Promise<void> {
    this.requireHead();
    if (schema > this.#schema) {
      ops.push({ type: 'put', key: keys.meta('schemaVersion'), value: encodeUint(schema) });
    }
    const t0 = performance.now();
    await writeBatch(this.db, ops);
    this.onBlockWrite?.(performance.now() - t0);
    if (schema > this.#schema) this.#schema = schema;
    this.#head = next;
    this.state.committed(
      stateWrites ??
        ops
          .filter((op) => op.key[0] === Prefix.state)
          .map((op) => ({ key: op.key.subarray(1), value: op.type === 'put' ? op.value : undefined })),
    );
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
      const flat = await this.state.get(key);
      const problem = await this.#stateProblem(root, key, flat);
      if (problem === undefined) return flat;
      // A block committed between the two reads moves the flat copy past `root`: read again.
      if (attempt < 2 && !bytesEqual(root, this.requireHead().stateRoot)) continue;
      throw new StoreError('CORRUPT_STATE', `state key ${Buffer.from(key).toString('hex')}: ${problem}`);
    }
  }

  /** Checks one (key, value) of the flat copy (e.g. from a range scan) as verifiedState does. */
  async verifyStateEntry(key: Uint8Array, value: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const root = this.requireHead().stateRoot;
      const problem = await this.#stateProblem(root, key, value);
      if (problem === undefined) return;
      if (attempt < 2 && !bytesEqual(root, this.requireHead().stateRoot)) continue;
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
  ): Promise<{ height: number; root: Uint8Array; value: Uint8Array | undefined; proof: StateProof }> {
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
    const { value, proof } = await this.tree.prove(root, key);
    return { height: h, root, value, proof };
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.close();
  }
}
