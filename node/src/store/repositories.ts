// Typed read access to each record type of the chain database (key layout: keys.ts, docs/storage.md).
// Writes are never made here record by record: the executor gathers them into one atomic batch
// (ChainStore.commit), so that a crash leaves either all of a block's records or none.
import {
  type Block,
  blockHash,
  bytesEqual,
  type CommitCertificate,
  decodeBlock,
  decodeCommitCertificate,
} from '@vigil/consensus/wire';
import { LRUCache } from 'lru-cache';
import { txRoot } from '../crypto/tx-root.ts';
import { type ChainDb, getBytes } from './db.ts';
import { StoreError } from './errors.ts';
import { keys, type MetaKey, Prefix, prefixRange, readU64be, subRange } from './keys.ts';
import {
  decodeBytes,
  decodeChangeList,
  decodeKeyList,
  decodeReceipt,
  decodeText,
  decodeTxLocation,
  decodeUint,
  type Receipt,
  type StateChangeEntry,
} from './records.ts';
import { mapKey } from './map-key.ts';

/** Generous bounds for decoding stored blocks: what we stored passed the protocol limits already. */
const MAX_STORED_BLOCK_BYTES = 64 << 20;

export class MetaRepository {
  readonly #db: ChainDb;
  constructor(db: ChainDb) {
    this.#db = db;
  }

  raw(name: MetaKey): Promise<Uint8Array | undefined> {
    return getBytes(this.#db, keys.meta(name));
  }

  async #required(name: MetaKey): Promise<Uint8Array> {
    const v = await this.raw(name);
    if (v === undefined) throw new StoreError('CORRUPT_METADATA', `metadata record ${name} is missing`);
    return v;
  }

  async #wrap<T>(name: MetaKey, f: (b: Uint8Array) => T): Promise<T> {
    const b = await this.#required(name);
    try {
      return f(b);
    } catch (e) {
      throw new StoreError('CORRUPT_METADATA', `metadata record ${name}: ${(e as Error).message}`);
    }
  }

  async schemaVersion(): Promise<number | undefined> {
    const b = await this.raw('schemaVersion');
    if (b === undefined) return undefined;
    return this.#wrap('schemaVersion', (x) => decodeUint(x, 'schemaVersion'));
  }
  chainId(): Promise<string> {
    return this.#wrap('chainId', (x) => decodeText(x, 'chainId'));
  }
  genesisHash(): Promise<Uint8Array> {
    return this.#wrap('genesisHash', (x) => decodeBytes(x, 'genesisHash', 32));
  }
  genesisTime(): Promise<number> {
    return this.#wrap('genesisTime', (x) => decodeUint(x, 'genesisTime'));
  }
  validators(): Promise<Uint8Array[]> {
    return this.#wrap('validators', (x) => decodeKeyList(x, 'validators'));
  }
  appliedHeight(): Promise<number> {
    return this.#wrap('appliedHeight', (x) => decodeUint(x, 'appliedHeight'));
  }
  headHash(): Promise<Uint8Array> {
    return this.#wrap('headHash', (x) => decodeBytes(x, 'headHash', 32));
  }
  stateRoot(): Promise<Uint8Array> {
    return this.#wrap('stateRoot', (x) => decodeBytes(x, 'stateRoot', 32));
  }
  /** Blocks per state-tree update (ADR 0117): 1 when never recorded. */
  async stateRootInterval(): Promise<number> {
    if ((await this.raw('stateRootInterval')) === undefined) return 1;
    return this.#wrap('stateRootInterval', (x) => {
      const k = decodeUint(x, 'stateRootInterval');
      if (k < 1) throw new Error('must be at least 1');
      return k;
    });
  }
  /**
   * Whether blocks write their receipts root into the state (ADR 0123): 1 yes, 0 no (recorded either way
   * from schema 7 on, ADR 0130); undefined when never recorded (before schema 7: no).
   */
  async receiptsRoots(): Promise<boolean | undefined> {
    if ((await this.raw('receiptsRoots')) === undefined) return undefined;
    return this.#wrap('receiptsRoots', (x) => {
      const v = decodeUint(x, 'receiptsRoots');
      if (v > 1) throw new Error('must be 0 or 1');
      return v === 1;
    });
  }
  /** Whether blocks store effects records and their digests (ADR 0133): recorded from schema 8 on. */
  async blockEffects(): Promise<boolean | undefined> {
    if ((await this.raw('blockEffects')) === undefined) return undefined;
    return this.#wrap('blockEffects', (x) => {
      const v = decodeUint(x, 'blockEffects');
      if (v > 1) throw new Error('must be 0 or 1');
      return v === 1;
    });
  }
  /** The first height whose index records are complete (ADR 0130, schema 7); undefined before it. */
  async indexedFrom(): Promise<number | undefined> {
    if ((await this.raw('indexedFrom')) === undefined) return undefined;
    return this.#wrap('indexedFrom', (x) => {
      const h = decodeUint(x, 'indexedFrom');
      if (h < 1) throw new Error('must be at least 1');
      return h;
    });
  }
  /** The height whose state tree is stored (ADR 0116), undefined when never recorded. */
  async treeHeight(): Promise<number | undefined> {
    if ((await this.raw('treeHeight')) === undefined) return undefined;
    return this.#wrap('treeHeight', (x) => decodeUint(x, 'treeHeight'));
  }
}

export class BlockRepository {
  readonly #db: ChainDb;
  /** ADR 0135: the effects records' own store, when the node keeps them apart. */
  readonly #effectsApart: (height: number) => Promise<Uint8Array | undefined> | undefined;
  constructor(
    db: ChainDb,
    effectsApart: (height: number) => Promise<Uint8Array | undefined> | undefined = () => undefined,
  ) {
    this.#db = db;
    this.#effectsApart = effectsApart;
  }

  rawBlock(height: number): Promise<Uint8Array | undefined> {
    return getBytes(this.#db, keys.block(height));
  }

  /**
   * The block at `height`, checked before it is returned: its transactions hash to the header's
   * txRoot, and the header hashes to the block hash its commit certificate was signed over (or, with
   * no certificate, to the hash index entry for this height). A flipped byte anywhere in the record
   * is CORRUPT_RECORD, never a block served silently (startup checks only the head block).
   */
  async block(height: number): Promise<Block | undefined> {
    return (await this.checkedBlock(height))?.block;
  }

  /**
   * The block at `height` with the bytes it is stored as (its canonical wire encoding) and its commit
   * certificate with its bytes, after the checks `block` makes: block sync serves the stored bytes
   * (node/src/validator/block-sync.ts) instead of re-encoding what it just decoded.
   */
  async checkedBlock(height: number): Promise<
    | {
        block: Block;
        bytes: Uint8Array;
        certificate: CommitCertificate | undefined;
        certificateBytes: Uint8Array | undefined;
      }
    | undefined
  > {
    const b = await this.rawBlock(height);
    if (b === undefined) return undefined;
    let block: Block;
    try {
      // Decoding checks the transactions against the header's txRoot (RFC 6962 root with node:crypto:
      // the same function as wire's merkleRoot, crypto/tx-root.test.ts).
      block = decodeBlock(b, { maxBytes: MAX_STORED_BLOCK_BYTES, txRoot });
    } catch (e) {
      throw new StoreError('CORRUPT_RECORD', `block ${height}: ${(e as Error).message}`);
    }
    if (block.header.height !== height)
      throw new StoreError('CORRUPT_RECORD', `block ${height} claims height ${block.header.height}`);
    const hash = blockHash(block.header);
    const certificateBytes = await getBytes(this.#db, keys.certificate(height));
    const cert =
      certificateBytes === undefined ? undefined : this.#decodeCertificate(height, certificateBytes);
    const ok = cert !== undefined ? bytesEqual(cert.blockHash, hash) : (await this.heightOf(hash)) === height;
    if (!ok)
      throw new StoreError(
        'CORRUPT_RECORD',
        `block ${height} does not hash to the block its certificate signs`,
      );
    return { block, bytes: b, certificate: cert, certificateBytes };
  }

  async certificate(height: number): Promise<CommitCertificate | undefined> {
    const b = await getBytes(this.#db, keys.certificate(height));
    return b === undefined ? undefined : this.#decodeCertificate(height, b);
  }

  #decodeCertificate(height: number, b: Uint8Array): CommitCertificate {
    try {
      return decodeCommitCertificate(b);
    } catch (e) {
      throw new StoreError('CORRUPT_RECORD', `certificate ${height}: ${(e as Error).message}`);
    }
  }

  async heightOf(blockHash: Uint8Array): Promise<number | undefined> {
    const b = await getBytes(this.#db, keys.blockHash(blockHash));
    return b === undefined ? undefined : decodeUint(b, 'block hash index');
  }

  /** The heights that have a stored block, ascending (startup completeness check). */
  async *heights(): AsyncGenerator<number> {
    for await (const k of this.#db.keys(prefixRange(Prefix.block))) yield readU64be(k, 1);
  }

  async stateRootAt(height: number): Promise<Uint8Array | undefined> {
    const b = await getBytes(this.#db, keys.stateRoot(height));
    return b === undefined ? undefined : decodeBytes(b, `state root ${height}`, 32);
  }

  /**
   * Block `height`'s effects record as stored (ADR 0133), undefined when absent (a chain without
   * blockEffects, or a record lost from its own store, ADR 0135). Served to peers as is: they check it
   * through the certified state root. Read from the records' own store first, then from the chain
   * database (where they were written before ADR 0135, or without a store of their own).
   */
  async effects(height: number): Promise<Uint8Array | undefined> {
    return (await this.#effectsApart(height)) ?? getBytes(this.#db, keys.effects(height));
  }

  /**
   * The end of the certified range `height` was applied in when its own state root was never computed
   * (ADR 0115), undefined for a height applied on its own.
   */
  async rangeEndOf(height: number): Promise<number | undefined> {
    const b = await getBytes(this.#db, keys.rangeInterior(height));
    return b === undefined ? undefined : decodeUint(b, `range end of ${height}`);
  }

  /**
   * The state keys block `height` changed while its tree was held in memory or not yet updated (ADR
   * 0116, 0117), with their values after the block where the record has them (schema 5).
   */
  async treeChanges(height: number): Promise<StateChangeEntry[] | undefined> {
    const b = await getBytes(this.#db, keys.treeChanges(height));
    return b === undefined ? undefined : decodeChangeList(b, `tree changes of ${height}`);
  }
}

export interface TxRecord {
  height: number;
  position: number;
  receipt: Receipt;
}

export class TxIndex {
  readonly #db: ChainDb;
  constructor(db: ChainDb) {
    this.#db = db;
  }

  /** Where a committed transaction is; only transactions that consumed a nonce are indexed by id. */
  async locate(txId: Uint8Array): Promise<{ height: number; position: number } | undefined> {
    const b = await getBytes(this.#db, keys.tx(txId));
    return b === undefined ? undefined : decodeTxLocation(b);
  }

  async has(txId: Uint8Array): Promise<boolean> {
    return (await getBytes(this.#db, keys.tx(txId))) !== undefined;
  }

  async receipt(height: number, position: number): Promise<Receipt | undefined> {
    const b = await getBytes(this.#db, keys.receipt(height, position));
    return b === undefined ? undefined : decodeReceipt(b);
  }

  async get(txId: Uint8Array): Promise<TxRecord | undefined> {
    const loc = await this.locate(txId);
    if (loc === undefined) return undefined;
    const receipt = await this.receipt(loc.height, loc.position);
    if (receipt === undefined)
      throw new StoreError('MISSING_RECORD', `receipt ${loc.height}/${loc.position}`);
    return { ...loc, receipt };
  }

  /** Every receipt of a block as stored (its canonical encoding: the leaves of ADR 0123's root), by position. */
  async receiptBytesOf(height: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const range = { gte: keys.receipt(height, 0), lt: keys.receipt(height + 1, 0) };
    for await (const v of this.#db.values(range)) out.push(v);
    return out;
  }

  /** Every receipt of a block, by position. */
  async receiptsOf(height: number): Promise<Receipt[]> {
    const out: Receipt[] = [];
    const range = { gte: keys.receipt(height, 0), lt: keys.receipt(height + 1, 0) };
    for await (const v of this.#db.values(range)) out.push(decodeReceipt(v));
    return out;
  }
}

/** A cached 'this state key does not exist' (lru-cache values cannot be null or undefined). */
const ABSENT: unique symbol = Symbol('absent');

/**
 * The current (applied-height) state and index values, read from their flat copies. State reads go
 * through an LRU of hot keys (device records, nonces): a LevelDB get is an async round trip to the
 * thread pool, and a 1,000-transaction block reads a few thousand keys. The cache is updated from each
 * committed batch (ChainStore.commit), after it is durable; a read that raced with a commit is
 * returned but not cached (the generation check), so the cache never holds a stale value.
 */
export class StateRepository {
  readonly #db: ChainDb;
  /**
   * Values by state key; ABSENT records a key known not to exist. lru-cache rather than a Map evicted
   * through `keys().next()`, which costs O(deleted slots) per eviction once full (see state-tree/tree.ts).
   */
  readonly #cache: LRUCache<string, Uint8Array | typeof ABSENT>;
  #generation = 0;

  constructor(db: ChainDb, cacheSize = 100_000) {
    this.#db = db;
    this.#cache = new LRUCache({ max: cacheSize });
  }

  #remember(id: string, value: Uint8Array | null): void {
    this.#cache.set(id, value ?? ABSENT);
  }

  /** `id`: mapKey(key), when the caller has it already. */
  async get(key: Uint8Array, id = mapKey(key)): Promise<Uint8Array | undefined> {
    const hit = this.#cache.get(id);
    if (hit !== undefined) return hit === ABSENT ? undefined : hit;
    const generation = this.#generation;
    const v = await getBytes(this.#db, keys.state(key));
    if (generation === this.#generation) this.#remember(id, v ?? null);
    return v;
  }

  /** Loads many state keys into the cache in one round trip (the executor's nonce keys). */
  async prefetch(stateKeys: readonly Uint8Array[]): Promise<void> {
    const missing = stateKeys.filter((k) => !this.#cache.has(mapKey(k)));
    if (missing.length === 0) return;
    const generation = this.#generation;
    const values = await this.#db.getMany(missing.map((k) => keys.state(k)));
    if (generation !== this.#generation) return;
    missing.forEach((k, i) => {
      this.#remember(mapKey(k), values[i] ?? null);
    });
  }

  /** Called with the state writes of a batch once it is durable. */
  committed(writes: readonly { key: Uint8Array; value: Uint8Array | undefined }[]): void {
    this.#generation++;
    for (const w of writes) this.#remember(mapKey(w.key), w.value ?? null);
  }

  getIndex(key: Uint8Array): Promise<Uint8Array | undefined> {
    return getBytes(this.#db, keys.index(key));
  }

  getNode(version: number, hash: Uint8Array): Promise<Uint8Array | undefined> {
    return getBytes(this.#db, keys.treeNode(version, hash));
  }

  async getRootVersion(root: Uint8Array): Promise<number | undefined> {
    const b = await getBytes(this.#db, keys.treeRootVersion(root));
    return b === undefined ? undefined : decodeUint(b, 'state-tree root version');
  }

  /** Range scan over secondary-index keys starting with `prefix` (the query layer's reads). */
  async *scanIndex(
    prefix: Uint8Array,
    options: { gte?: Uint8Array; lt?: Uint8Array; reverse?: boolean; limit?: number } = {},
  ): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    const range = subRange(Prefix.index, prefix);
    const gte = options.gte !== undefined ? keys.index(options.gte) : range.gte;
    const lt = options.lt !== undefined ? keys.index(options.lt) : range.lt;
    const it = this.#db.iterator({
      gte,
      ...(lt !== undefined ? { lt } : {}),
      reverse: options.reverse ?? false,
      limit: options.limit ?? -1,
    });
    for await (const [k, v] of it) yield { key: k.subarray(1), value: v };
  }

  /** Range scan over current state keys starting with `prefix`. */
  async *scanState(prefix: Uint8Array, limit = -1): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    const range = subRange(Prefix.state, prefix);
    for await (const [k, v] of this.#db.iterator({ ...range, limit })) yield { key: k.subarray(1), value: v };
  }
}
