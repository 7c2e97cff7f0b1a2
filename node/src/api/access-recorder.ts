// Every successful patient-data read served by this node is written to the patient's on-chain audit
// trail as a recordAccess transaction (docs/state-machine.md, tx 52) signed by this node's validator
// key. Reads are batched: those arriving within `flushMs` are coalesced per (reader, patient,
// purpose), with the union of their categories and the earliest read time, and submitted together, so
// a dashboard polling a ward does not write one transaction per HTTP request.
import { encodeTransaction, type Signer, signTransaction, TxType, toHex } from '@vigil/consensus/wire';
import { encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import { MempoolRejected } from '../mempool/mempool.ts';

export interface ReadRecord {
  reader: Uint8Array;
  patient: Uint8Array;
  categories: readonly string[];
  purpose: 1 | 2 | 3;
  readAt: number;
}

export interface AccessRecorderDeps {
  chainId: string;
  signer: Signer;
  submit: (bytes: Uint8Array) => Promise<Uint8Array>;
  /** The signer's next usable nonce minus one: max(committed, highest contiguous pending). */
  lastNonce: () => Promise<number>;
  /** How many of the signer's transactions (submitted records) wait in the mempool. */
  pending?: () => number;
  now: () => number;
  onError?: (err: unknown) => void;
}

export interface AccessRecorderOptions {
  flushMs?: number;
  /** Most distinct coalesced reads held before a flush is forced. */
  maxPending?: number;
  /**
   * Most records outstanding, held here or submitted and not yet committed, before a read that would
   * need a new record is refused (`admits`). Below the mempool's 256 pending transactions per sender,
   * so a record the node has admitted is never one the mempool then refuses.
   */
  maxOutstanding?: number;
}

export class AccessRecorder {
  readonly #deps: AccessRecorderDeps;
  readonly #flushMs: number;
  readonly #maxPending: number;
  readonly #maxOutstanding: number;
  readonly #pending = new Map<string, ReadRecord & { categories: string[] }>();
  /** Records handed to a flush and not yet submitted (a flush submits one at a time). */
  #flushing = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  /** Transaction ids submitted (tests and metrics). */
  submitted = 0;
  failed = 0;

  constructor(deps: AccessRecorderDeps, o: AccessRecorderOptions = {}) {
    this.#deps = deps;
    this.#flushMs = o.flushMs ?? 200;
    this.#maxPending = o.maxPending ?? 512;
    this.#maxOutstanding = o.maxOutstanding ?? 192;
  }

  /**
   * Whether a read by `reader` of `patient` for `purpose` can be recorded now. Fail closed: the API
   * serves no patient data it cannot put in the audit trail (docs/api.md "Audit of reads"). A read
   * that coalesces into a record already held costs nothing; a new one needs room among the records
   * outstanding (held, being submitted, or pending in the mempool under this node's key).
   */
  admits(r: Pick<ReadRecord, 'reader' | 'patient' | 'purpose'>): boolean {
    if (this.#closed) return false;
    if (this.#pending.has(recordId(r))) return true;
    const outstanding = this.#pending.size + this.#flushing + (this.#deps.pending?.() ?? 0);
    return outstanding < this.#maxOutstanding;
  }

  record(r: ReadRecord): void {
    if (this.#closed) return;
    const id = recordId(r);
    const cur = this.#pending.get(id);
    if (cur) {
      for (const c of r.categories) if (!cur.categories.includes(c)) cur.categories.push(c);
      cur.readAt = Math.min(cur.readAt, r.readAt);
    } else {
      this.#pending.set(id, { ...r, categories: [...r.categories] });
    }
    if (this.#pending.size >= this.#maxPending) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#flushMs);
  }

  /** Submits everything pending; resolves when it has been handed to the mempool. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    if (batch.length === 0) return this.#chain;
    this.#flushing += batch.length;
    // Flushes are serialised: each one reads the nonce after the previous one's submissions. #submit
    // settles every record itself; the catch is the last line of defence, because a rejected #chain would
    // stay rejected: every later flush chained on it would be skipped (reads silently no longer audited)
    // and each `void this.flush()` would be an unhandled rejection, which ends the process.
    this.#chain = this.#chain.then(() => this.#submit(batch)).catch((e: unknown) => this.#fail(e));
    return this.#chain;
  }

  /** Counts a record as not recorded and reports why; never throws (it runs in catch blocks). */
  #fail(e: unknown): void {
    this.failed++;
    try {
      this.#deps.onError?.(e);
    } catch {
      // a failing reporter must not take the recorder down with it
    }
  }

  async #submit(batch: (ReadRecord & { categories: string[] })[]): Promise<void> {
    // Read lazily, and again after any failure: one failed read of the nonce (a store error) costs the
    // record it was for, not the batch or the recorder.
    let nonce: number | undefined;
    for (const r of batch) {
      try {
        nonce = await this.#record(r, nonce ?? (await this.#deps.lastNonce()));
      } catch (e) {
        this.#fail(e);
        nonce = undefined;
      } finally {
        this.#flushing--;
      }
    }
  }

  /** Submits one record's transaction after nonce `last`; the nonce it used, or undefined to resync. */
  async #record(r: ReadRecord & { categories: string[] }, last: number): Promise<number | undefined> {
    let nonce = last;
    for (let attempt = 0; attempt < 2; attempt++) {
      const tx = signTransaction(
        {
          version: 1,
          chainId: this.#deps.chainId,
          type: TxType.recordAccess,
          sender: this.#deps.signer.publicKey,
          nonce: ++nonce,
          timestamp: this.#deps.now(),
          body: encodeBody({
            type: 52,
            reader: r.reader,
            patient: r.patient,
            categories: r.categories,
            purpose: r.purpose,
            readAt: r.readAt,
          }),
        },
        this.#deps.signer,
      );
      try {
        await this.#deps.submit(encodeTransaction(tx));
        this.submitted++;
        return nonce;
      } catch (e) {
        const stale =
          e instanceof MempoolRejected && (e.code === 'NONCE_TOO_LOW' || e.code === 'NONCE_TAKEN');
        if (stale && attempt === 0) {
          // Someone else used this key's nonces (another API instance on the same validator): resync.
          nonce = await this.#deps.lastNonce();
          continue;
        }
        this.#fail(e);
        return undefined;
      }
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}

function recordId(r: Pick<ReadRecord, 'reader' | 'patient' | 'purpose'>): string {
  return `${toHex(r.reader)}:${toHex(r.patient)}:${r.purpose}`;
}
