// The safety and liveness properties the simulator checks after every delivered message and every
// commit. Only correct replicas are judged: a Byzantine replica may "commit" anything it likes.
//
//   agreement   no two correct replicas commit different blocks at the same height (PBFT's safety
//               property, Castro & Liskov, TOCS 2002, §2 and §4.5).
//   validity    every committed transaction was submitted by a client, and none is committed twice,
//               neither at two heights nor twice in one block.
//   certificate every commit a replica hands to its driver carries a commit certificate that verifies
//               (wire's verifyCommitCertificate: 2f+1 distinct validators signed COMMIT for this header)
//               against the validator set of the epoch containing its height (ADR 0015)
//               and the block's txRoot/txCount/prevHash match its contents and the agreed chain.
//   order       a replica commits heights in order, each exactly once (the Ready contract, types.ts).
//   liveness    with at most f faulty replicas, every submitted transaction is committed by f+1 correct
//               replicas (enough for a client to trust the outcome) within the scenario's bound after
//               max(submission, GST).

import {
  blockHash,
  type CommitCertificate,
  merkleRoot,
  type Block,
  type Verifier,
  verifyCommitCertificate,
} from '../src/wire/index.ts';
import { hex } from './crypto.ts';

export const ViolationKind = {
  agreement: 'agreement',
  validity: 'validity',
  certificate: 'certificate',
  order: 'order',
  liveness: 'liveness',
  /** The replica threw on an input: hostile input must be dropped, never crash a correct replica. */
  replicaThrew: 'replica-threw',
  /** The run exceeded its event budget: some message amplification has no bound (a DoS). */
  storm: 'storm',
} as const;
export type ViolationKind = (typeof ViolationKind)[keyof typeof ViolationKind];

export interface Violation {
  kind: ViolationKind;
  /** Virtual time (ms) at which it was detected. */
  time: number;
  replica?: number;
  height?: number;
  detail: string;
}

interface TxRecord {
  submittedAt: number;
  /** Correct replicas that committed it. */
  committedBy: Set<number>;
  height: number | undefined;
  /** When the (f+1)-th correct replica committed it. */
  settledAt: number | undefined;
}

export interface InvariantOptions {
  chainId: string;
  validators: readonly Uint8Array[];
  /** The validator set of the epoch containing a height (ADR 0015); default: `validators` throughout. */
  validatorsAt?: (height: number) => readonly Uint8Array[];
  verifier: Verifier;
  /** How many correct replicas must commit a transaction for it to count as committed (f+1). */
  settleQuorum: number;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  readonly #opts: InvariantOptions;
  /** Height -> hash of the block correct replicas committed there (the first one seen). */
  readonly #chain = new Map<number, string>();
  readonly #headers = new Map<number, Uint8Array>();
  readonly #txs = new Map<string, TxRecord>();
  /** Per correct replica, the last height it committed or state-transferred to. */
  readonly #lastHeight = new Map<number, number>();
  #settled = 0;
  /** Commit latencies (settledAt - submittedAt), in settlement order. */
  readonly commitLatencies: number[] = [];

  constructor(opts: InvariantOptions) {
    this.#opts = opts;
  }

  get committedHeights(): number {
    return this.#chain.size;
  }

  /** The block hash correct replicas agreed at `height`, if any committed it. */
  agreedHash(height: number): Uint8Array | undefined {
    return this.#headers.get(height);
  }

  submitted(txKey: string, time: number): void {
    if (!this.#txs.has(txKey))
      this.#txs.set(txKey, {
        submittedAt: time,
        committedBy: new Set(),
        height: undefined,
        settledAt: undefined,
      });
  }

  /** A correct replica finished a state transfer to `height`: its next commit is height + 1. */
  stateTransferred(replica: number, height: number): void {
    this.#lastHeight.set(replica, Math.max(this.#lastHeight.get(replica) ?? 0, height));
  }

  /** A correct replica restarted from its persisted records: its next commit may be any height. */
  restarted(replica: number): void {
    this.#lastHeight.delete(replica);
  }

  /**
   * A correct replica's Ready contained this commit. Returns false if the block must not be applied
   * (a violation was recorded and applying it would only cascade).
   */
  commit(
    replica: number,
    block: Block,
    certificate: CommitCertificate,
    txKeys: readonly string[],
    time: number,
  ): boolean {
    const h = block.header.height;
    const before = this.violations.length;
    const bad = (kind: ViolationKind, detail: string): void => {
      this.violations.push({ kind, time, replica, height: h, detail });
    };
    const hash = blockHash(block.header);
    const hashHex = hex(hash);

    // A bad certificate is reported, but the block is still judged for agreement and validity: a
    // broken quorum typically shows up as both, and the fork is the more telling of the two.
    try {
      verifyCommitCertificate(
        this.#opts.chainId,
        certificate,
        block.header,
        this.#opts.validatorsAt?.(h) ?? this.#opts.validators,
        this.#opts.verifier,
      );
      if (certificate.height !== h || hex(certificate.blockHash) !== hashHex)
        bad('certificate', 'certificate is for another block');
    } catch (e) {
      bad('certificate', `commit certificate does not verify: ${describe(e)}`);
    }
    if (block.header.txCount !== block.txs.length) bad('certificate', 'txCount does not match the block');
    else if (hex(merkleRoot(block.txs)) !== hex(block.header.txRoot))
      bad('certificate', 'txRoot does not match the block transactions');

    const last = this.#lastHeight.get(replica);
    if (last !== undefined && h !== last + 1) bad('order', `committed height ${h} after height ${last}`);
    this.#lastHeight.set(replica, h);

    const agreed = this.#chain.get(h);
    if (agreed !== undefined && agreed !== hashHex)
      bad(
        'agreement',
        `committed ${hashHex.slice(0, 16)} but another correct replica committed ${agreed.slice(0, 16)}`,
      );
    const prev = this.#headers.get(h - 1);
    if (h > 1 && prev !== undefined && hex(block.header.prevHash) !== hex(prev))
      bad('agreement', `block ${h} does not extend the agreed block ${h - 1}`);
    // The first block a correct replica commits at h defines "the" block there, even if its certificate
    // was bad: every later disagreement with it is a fork worth reporting.
    if (agreed === undefined) {
      this.#chain.set(h, hashHex);
      this.#headers.set(h, hash);
    }
    if (this.violations.length > before) return false;

    const inBlock = new Set<string>();
    for (const key of txKeys) {
      const rec = this.#txs.get(key);
      if (rec === undefined) bad('validity', `transaction ${key.slice(0, 16)} was never submitted`);
      else if (inBlock.has(key))
        bad('validity', `transaction ${key.slice(0, 16)} appears twice in one block`);
      else if (rec.height !== undefined && rec.height !== h)
        bad('validity', `transaction ${key.slice(0, 16)} committed at heights ${rec.height} and ${h}`);
      inBlock.add(key);
    }
    if (this.violations.length > before) return false;
    for (const key of txKeys) {
      const rec = this.#txs.get(key)!;
      rec.height = h;
      rec.committedBy.add(replica);
      if (rec.settledAt === undefined && rec.committedBy.size >= this.#opts.settleQuorum) {
        rec.settledAt = time;
        this.#settled++;
        this.commitLatencies.push(time - rec.submittedAt);
      }
    }
    return true;
  }

  /** True when every submitted transaction has settled. */
  allSettled(): boolean {
    return this.#settled === this.#txs.size;
  }

  get settledCount(): number {
    return this.#settled;
  }

  /** True when some transaction is still unsettled past its deadline max(submitted, gst) + bound. */
  deadlineMissed(gst: number, boundMs: number, now: number): boolean {
    if (this.allSettled()) return false;
    for (const rec of this.#txs.values())
      if (rec.settledAt === undefined && Math.max(rec.submittedAt, gst) + boundMs < now) return true;
    return false;
  }

  /**
   * Liveness at the end of a run that lasted until `endTime`: a transaction whose deadline
   * max(submission, gst) + bound has passed must have settled by that deadline.
   */
  checkLiveness(gst: number, boundMs: number, endTime: number): void {
    let late = 0;
    let first: string | undefined;
    for (const [key, rec] of this.#txs) {
      const deadline = Math.max(rec.submittedAt, gst) + boundMs;
      if (deadline > endTime) continue;
      if (rec.settledAt === undefined || rec.settledAt > deadline) {
        late++;
        first ??= `${key.slice(0, 16)} submitted at ${rec.submittedAt.toFixed(0)}ms ${
          rec.settledAt === undefined ? 'never settled' : `settled at ${rec.settledAt.toFixed(0)}ms`
        } (deadline ${deadline.toFixed(0)}ms, committed by ${rec.committedBy.size})`;
      }
    }
    if (late > 0)
      this.violations.push({
        kind: 'liveness',
        time: endTime,
        detail: `${late} transaction(s) not committed by f+1 correct replicas in time; first: ${first}`,
      });
  }
}

function describe(e: unknown): string {
  if (e instanceof Error)
    return 'code' in e ? `${String((e as { code: unknown }).code)}: ${e.message}` : e.message;
  return String(e);
}
