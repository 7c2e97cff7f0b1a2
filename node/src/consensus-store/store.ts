// Durable storage for the PBFT replica's PersistRecords (consensus/src/pbft/types.ts). PBFT's safety
// across crashes depends on a replica never contradicting a message it sent before it crashed
// (Castro & Liskov, TOCS 2002, §4.4 / §5.3), so the driver persists a Ready's records HERE, waits for
// the fsync, and only then sends its messages. Each persist() is one LevelDB WriteBatch with
// sync: true: all of its records or none survive a crash, and once it resolves they survive SIGKILL
// and power loss. A separate database from the chain store: its write pattern (tiny, frequent, fsynced)
// should not wait behind block batches, and its loss rules differ (docs/storage.md).
import type { Level } from 'level';
import type { PersistRecord } from '@vigil/consensus/pbft/types.ts';
import { type DbOptions, openDb } from '../store/db.ts';

export const MAX_RECORD_KEY_BYTES = 1024;
export const MAX_RECORD_VALUE_BYTES = 16 * 1024 * 1024;

export class ConsensusStoreError extends Error {
  readonly code: 'RECORD_TOO_LARGE' | 'CLOSED';
  constructor(code: 'RECORD_TOO_LARGE' | 'CLOSED', message: string) {
    super(`${code}: ${message}`);
    this.name = 'ConsensusStoreError';
    this.code = code;
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export class ConsensusRecordStore {
  readonly #db: Level<Uint8Array, Uint8Array>;
  #closed = false;

  private constructor(db: Level<Uint8Array, Uint8Array>) {
    this.#db = db;
  }

  static async open(path: string, options: DbOptions = {}): Promise<ConsensusRecordStore> {
    // openDb, not a Level of its own: LevelDB told to create a database where CURRENT is missing
    // deletes the table files it does not know, and these are the records that keep this validator
    // from contradicting its past votes. A damaged directory is refused (CORRUPT_DATABASE), unchanged;
    // moved away, the node starts without records and recovers (ADR 0121).
    return new ConsensusRecordStore(await openDb(path, options));
  }

  /** Writes (or deletes, value null) every record atomically; resolves once they are on disk. */
  async persist(records: readonly PersistRecord[]): Promise<void> {
    if (this.#closed) throw new ConsensusStoreError('CLOSED', 'the consensus store is closed');
    if (records.length === 0) return;
    const ops = records.map((r) => {
      const key = utf8.encode(r.key);
      if (key.length === 0 || key.length > MAX_RECORD_KEY_BYTES) {
        throw new ConsensusStoreError('RECORD_TOO_LARGE', `record key of ${key.length} bytes`);
      }
      if (r.value === null) return { type: 'del' as const, key };
      if (r.value.length > MAX_RECORD_VALUE_BYTES) {
        throw new ConsensusStoreError('RECORD_TOO_LARGE', `record ${r.key} of ${r.value.length} bytes`);
      }
      return { type: 'put' as const, key, value: r.value };
    });
    await this.#db.batch(ops, { sync: true });
  }

  /** Every stored record, by key (bytewise UTF-8 order), for the replica to restore on restart. */
  async loadAll(): Promise<PersistRecord[]> {
    if (this.#closed) throw new ConsensusStoreError('CLOSED', 'the consensus store is closed');
    const out: PersistRecord[] = [];
    for await (const [k, v] of this.#db.iterator()) out.push({ key: fromUtf8.decode(k), value: v });
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.close();
  }
}
