// Blocks' effects records (ADR 0133) in a LevelDB of their own (ADR 0135).
//
// In the chain database every record was written to LevelDB's log and then rewritten by each compaction
// it took part in, since every flushed file spans all key prefixes: at 600 tx/s the validators wrote
// 1.4-1.7 times the bytes per transaction of a chain without records (docs/benchmarks-log.md,
// 2026-12-06 09:25-10:17). Here the keys are heights written in ascending order, so flushed files do not
// overlap and compaction moves them down without rewriting them.
//
// The records are a cache for serving block sync, not chain data: the block's digest entry in the state
// (written with the block, in the chain database's atomic batch) is what commits to a record. They are
// written after the block's batch is durable and without fsync; a record lost to a crash, a failed write
// or a deleted directory only makes a syncing peer execute that block instead (the executor refuses
// nothing that is missing, it executes). So a write failure is counted, never thrown into a commit.

import { bytesEqual } from '@vigil/consensus/wire';
import { type BatchOp, type ChainDb, getBytes, openDb } from './db.ts';
import { keys } from './keys.ts';

/** LevelDB write buffer of the effects store: a few seconds of records at the rates measured here. */
export const EFFECTS_WRITE_BUFFER_BYTES = 8 * 1024 * 1024;

/** The genesis hash of the chain whose records the store holds (outside the records' key range). */
const GENESIS_KEY = Uint8Array.of(0x00, ...new TextEncoder().encode('genesisHash'));

export class EffectsStore {
  readonly #db: ChainDb;
  /** Record writes queued in order; close() waits for them. */
  #writing: Promise<void> = Promise.resolve();
  #lost = 0;

  private constructor(db: ChainDb) {
    this.#db = db;
  }

  /** Opens (creating if absent) the store at `path`; a damaged one is refused (StoreError, as openDb). */
  static async open(path: string): Promise<EffectsStore> {
    return new EffectsStore(await openDb(path, { writeBufferBytes: EFFECTS_WRITE_BUFFER_BYTES }));
  }

  /**
   * Ties the store to a chain: records of another chain (a data directory reused or restored from
   * elsewhere) are deleted, since a peer would refuse every one of them and execute instead.
   */
  async bind(genesisHash: Uint8Array): Promise<void> {
    const held = await getBytes(this.#db, GENESIS_KEY);
    if (held !== undefined && bytesEqual(held, genesisHash)) return;
    if (held !== undefined) await this.#db.clear();
    await this.#db.put(GENESIS_KEY, genesisHash);
  }

  get(height: number): Promise<Uint8Array | undefined> {
    return getBytes(this.#db, keys.effects(height));
  }

  /** Queues `ops` (puts of effects records) for one unsynced batch after those queued before. */
  write(ops: readonly BatchOp[]): void {
    this.#writing = this.#writing
      .then(() => this.#db.batch(ops as BatchOp[], { sync: false }))
      .catch(() => {
        this.#lost += ops.length;
      });
  }

  /** Records whose write failed (they are served as absent: peers execute those blocks). */
  get writesLost(): number {
    return this.#lost;
  }

  /** Resolves when every queued write has been handed to LevelDB. */
  flushed(): Promise<void> {
    return this.#writing;
  }

  async close(): Promise<void> {
    await this.#writing;
    await this.#db.close();
  }
}
