// A fake Vigil node for the SDK's tests: the HTTP API contract of docs/sensor-client.md on a shared
// in-memory ledger. It behaves like the node where the SDK's guarantees depend on it: signatures are
// verified, transactions are deduplicated by id (DUPLICATE_TX), and nonces must be exactly the next one
// per sender. Transactions commit at once (or when the test calls `commitPending`), one block each.
// Servers can be stopped and restarted on the same port while the ledger persists, to play an outage.
// With `ledger.certifyWith(validators)` every block gets a real header and a quorum commit certificate
// (the wire module's own encoders), and `/v1/transactions/:id/proof` serves RFC 6962 proofs as the node
// does (without the bytes: they name a patient). With `ledger.keepReceipts` the state commits to every
// block's receipts (ADR 0123) and to every account's nonce: blocks cite a real sparse-Merkle state
// root, proofs carry the receipt and, once a later certified header cites a state that holds it, the
// `outcome`, and `/v1/proofs/{key}` proves an account's nonce (ADR 0131); `rejectNext` makes the
// state machine reject transactions (in a block, nonce consumed). A FakeNode built with a `lie` plays a
// Byzantine node on the same ledger: it swallows submissions and claims them committed, with no proof
// or a forged one, or it relays them and lies about their outcome, or it calls them rejected (in a
// block, or at admission) when they are not, or it says their nonce is used (or out of reach) and
// names a wrong account nonce.

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  accountNonceKey,
  EMPTY_SUBTREE,
  encodeReceiptBytes,
  encodeReceiptsRootValue,
  encodeStateProof,
  internalHash,
  keyHashOf,
  leafHash,
  pathBit,
  type Receipt,
  receiptsRootKey,
  type StateProof,
  valueHashOf,
} from '@vigil/consensus/proof';
import {
  blockHash,
  type CommitVote,
  commitVoteSignBytes,
  decodeTransaction,
  encodeBlockHeader,
  encodeCanonical,
  encodeCommitCertificate,
  makeBlock,
  merkleInclusionProof,
  merkleLeafHash,
  merkleRoot,
  referenceVerifier,
  type Signer,
  type Transaction,
  transactionId,
  verifyTransactionSignature,
  ZERO_HASH,
} from '@vigil/consensus/wire';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { splitCborSequence } from '../sdk/cbor-seq.ts';
import { fromHex, toHex } from '../util/hex.ts';

export interface LedgerTx {
  id: string;
  tx: Transaction;
  bytes: Uint8Array;
  height: number;
  /** Set when the state machine rejected it (ledger.rejectNext): in its block, effects not applied. */
  code?: string;
}

/** The JSON of `GET /v1/transactions/:id/proof` (docs/api.md), without `tx` as for a patient's data. */
export interface ProofJson {
  leaf: string;
  index: number;
  height: number;
  proof: string[];
  header: string;
  certificate: string;
  receipt?: string;
  receiptProof?: string[];
  receiptsRoot?: string;
  outcome?: {
    stateProof: string;
    height: number;
    header: string;
    certificate: string;
    stateHeight: number;
    stateAsOf: number;
  };
}

/** The JSON of `GET /v1/proofs/{key}` (docs/api.md). */
export interface StateProofJson {
  key: string;
  value: string | null;
  stateHeight: number;
  stateAsOf: number;
  root: string;
  proof: string;
  height: number;
  header: string;
  certificate: string;
  validators: string[];
}

/** One certified block: canonical header and certificate (hex) and its state citation. */
interface CertifiedBlock {
  header: string;
  certificate: string;
  stateHeight: number;
  txs: Uint8Array[];
}

/** A leaf of the sparse-Merkle state tree (consensus/src/proof/smt.ts). */
interface SmtLeaf {
  keyHash: Uint8Array;
  valueHash: Uint8Array;
}

/** Root of the compressed sparse-Merkle subtree of `leaves` at `depth` (docs/storage.md "State tree"). */
function smtHash(leaves: readonly SmtLeaf[], depth = 0): Uint8Array {
  if (leaves.length === 0) return EMPTY_SUBTREE;
  if (leaves.length === 1) return leafHash(leaves[0]!.keyHash, leaves[0]!.valueHash);
  const left = leaves.filter((l) => pathBit(l.keyHash, depth) === 0);
  const right = leaves.filter((l) => pathBit(l.keyHash, depth) === 1);
  return internalHash(smtHash(left, depth + 1), smtHash(right, depth + 1));
}

/** Inclusion proof of `key` (which must be among `leaves`). */
function smtProof(leaves: readonly SmtLeaf[], key: Uint8Array): StateProof {
  const kh = keyHashOf(key);
  const siblings: Uint8Array[] = [];
  let set = leaves;
  for (let depth = 0; set.length > 1; depth++) {
    const bit = pathBit(kh, depth);
    siblings.push(
      smtHash(
        set.filter((l) => pathBit(l.keyHash, depth) !== bit),
        depth + 1,
      ),
    );
    set = set.filter((l) => pathBit(l.keyHash, depth) === bit);
  }
  return { siblings, leaf: set[0] ?? null };
}

/**
 * A block of `txs` at `height`, certified by the COMMIT votes of `signers[i]` for each i in `voters`
 * (vote index = position in `signers`, as certificates name a validator by its index in the epoch's
 * set), and the inclusion proof of txs[index]. Real encoders, so the SDK's verifier is exercised for real.
 */
export function certifiedProof(
  chainId: string,
  height: number,
  txs: Uint8Array[],
  index: number,
  signers: readonly Signer[],
  voters: readonly number[] = quorumOf(signers.length),
): ProofJson {
  const b = certifiedBlock(chainId, height, txs, signers, voters);
  return {
    leaf: toHex(merkleLeafHash(txs[index]!)),
    index,
    height,
    proof: merkleInclusionProof(txs, index).map(toHex),
    header: b.header,
    certificate: b.certificate,
  };
}

/** Block `height` holding `txs`, citing `state` (the state after block height - 1), certified by `voters`. */
function certifiedBlock(
  chainId: string,
  height: number,
  txs: Uint8Array[],
  signers: readonly Signer[],
  voters: readonly number[] = quorumOf(signers.length),
  stateRoot: Uint8Array = ZERO_HASH,
): CertifiedBlock {
  const block = makeBlock(
    {
      version: 1,
      chainId,
      height,
      view: 0,
      prevHash: ZERO_HASH,
      stateRoot,
      stateHeight: height - 1,
      proposer: 0,
      timestamp: 1_700_000_000_000 + height,
    },
    txs,
  );
  const hash = blockHash(block.header);
  const votes = voters.map((v) => {
    const vote: CommitVote = { view: 0, height, blockHash: hash, validator: v };
    return { validator: v, signature: signers[v]!.sign(commitVoteSignBytes(chainId, vote)) };
  });
  return {
    header: toHex(encodeBlockHeader(block.header)),
    certificate: toHex(encodeCommitCertificate({ height, view: 0, blockHash: hash, votes })),
    stateHeight: height - 1,
    txs,
  };
}

/** Indices 0..q-1 with q = 2f+1 of n = 3f+1 (more generally n - floor((n-1)/3)). */
function quorumOf(n: number): number[] {
  return Array.from({ length: n - Math.floor((n - 1) / 3) }, (_, i) => i);
}

export class FakeLedger {
  readonly chainId: string;
  /** Committed transactions the state machine accepted, in commit order. */
  readonly committed: LedgerTx[] = [];
  /** Transactions in a block but rejected by the state machine (rejectNext), in commit order. */
  readonly rejected: LedgerTx[] = [];
  /**
   * ADR 0123: the state keeps every block's receipts root, and proofs carry receipts and outcomes. Set
   * before the first commit.
   */
  keepReceipts = false;
  /**
   * With keepReceipts, when a certified header cites a block's state: 'immediate', a block without
   * transactions follows every block (ADR 0125's idle primary); 'manual', at the next block, or when
   * the test calls citeState().
   */
  citeMode: 'immediate' | 'manual' = 'immediate';
  /** The next `count` transactions committed are rejected by the state machine with `code`. */
  rejectNext: { code: string; count: number } | undefined;
  private readonly byId = new Map<string, LedgerTx | { pending: Transaction; bytes: Uint8Array }>();
  private readonly lastNonce = new Map<string, number>();
  private readonly pendingTxs: { id: string; tx: Transaction; bytes: Uint8Array }[] = [];
  /** 'immediate': commit on admission; 'manual': hold in a mempool until commitPending(). */
  commitMode: 'immediate' | 'manual' = 'immediate';
  /** Node clock; tests can skew it. */
  clock: () => number = Date.now;
  /** Every submission seen, including duplicates (to count resends). */
  submissions = 0;
  /** Problem code to answer the next N submissions with (e.g. MEMPOOL_FULL). */
  refuseNext: { code: string; count: number } | undefined;
  /** Hold transactions whose nonce is ahead (as a mempool does) instead of refusing them (NONCE_GAP). */
  parkFutureNonces = false;
  private readonly parked = new Map<
    string,
    Map<number, { id: string; tx: Transaction; bytes: Uint8Array }>
  >();
  /** Called with each block (height, tx ids) as it commits: the SSE feed. */
  readonly blockListeners = new Set<(height: number, txIds: string[]) => void>();
  /** The validator set certifying new blocks (certifyWith); none = the node serves no proofs. */
  private certifiers: readonly Signer[] | undefined;
  /** Height of the newest block. */
  private head = 0;
  /** Height -> the certified block (none while nobody certifies). */
  private readonly blocks = new Map<number, CertifiedBlock>();
  /**
   * keepReceipts: every write to the state, by the height of the block that made it and the key (hex);
   * the state after block h is each key's last write at or before h (leavesAt).
   */
  private readonly stateWrites: { height: number; key: string; value: Uint8Array; leaf: SmtLeaf }[] = [];
  /** keepReceipts: height -> [receipt bytes, receipts root] of its one transaction. */
  private readonly receipts = new Map<number, { receipt: Uint8Array; root: Uint8Array }>();

  /**
   * Identifies this chain among those sharing its id, as a node's /v1/status does: every ledger is a
   * chain of its own (its state lives in this object), so a random one unless a test fixes it.
   * Undefined: a node from before genesisHash was served.
   */
  genesisHash: string | undefined;

  constructor(chainId: string, opts: { genesisHash?: string | null } = {}) {
    this.chainId = chainId;
    this.genesisHash =
      opts.genesisHash === null ? undefined : (opts.genesisHash ?? randomBytes(32).toString('hex'));
  }

  /** Admission: the result for one encoded transaction. */
  admit(bytes: Uint8Array): { id: string } | { code: string; title: string } {
    this.submissions++;
    if (this.refuseNext && this.refuseNext.count > 0) {
      this.refuseNext.count--;
      return { code: this.refuseNext.code, title: 'refused by test' };
    }
    let tx: Transaction;
    try {
      tx = decodeTransaction(bytes, { chainId: this.chainId });
    } catch (e) {
      return { code: 'MALFORMED', title: (e as Error).message };
    }
    if (!verifyTransactionSignature(tx, referenceVerifier))
      return { code: 'BAD_SIGNATURE', title: 'bad signature' };
    const id = toHex(transactionId(tx));
    if (this.byId.has(id)) return { code: 'DUPLICATE_TX', title: 'already known' };
    const sender = toHex(tx.sender);
    const expected = this.nextNonce(sender);
    if (tx.nonce < expected) return { code: 'NONCE_TOO_LOW', title: `expected nonce ${expected}` };
    const p = { id, tx, bytes: bytes.slice() };
    if (tx.nonce > expected) {
      if (!this.parkFutureNonces) return { code: 'NONCE_GAP', title: `expected nonce ${expected}` };
      const m = this.parked.get(sender) ?? new Map();
      if (m.has(tx.nonce)) return { code: 'NONCE_TOO_LOW', title: 'nonce already pending' };
      m.set(tx.nonce, p);
      this.parked.set(sender, m);
      this.byId.set(id, { pending: tx, bytes: p.bytes });
      return { id };
    }
    this.byId.set(id, { pending: tx, bytes: p.bytes });
    this.pendingTxs.push(p);
    // Parked successors become executable in nonce order.
    const m = this.parked.get(sender);
    for (let n = tx.nonce + 1; m?.has(n); n++) {
      this.pendingTxs.push(m.get(n)!);
      m.delete(n);
    }
    if (this.commitMode === 'immediate') this.commitPending();
    return { id };
  }

  /**
   * Blocks committed from now on are certified by a quorum of `validators` (index order). Calling it
   * again plays a validator-set change (a new epoch, ADR 0015) at the next height.
   */
  certifyWith(validators: readonly Signer[]): void {
    this.certifiers = validators;
  }

  /** Height of the newest block (with or without transactions). */
  get height(): number {
    return this.head;
  }

  /**
   * The proof of a transaction in a block (accepted or rejected), as the node serves it, or undefined
   * (not in a block, or no certifiers). With keepReceipts: the receipt, and the outcome under the
   * newest block once that block cites a state at or after the transaction's.
   */
  proof(id: string): ProofJson | undefined {
    const e = this.byId.get(id);
    if (!e || !('height' in e)) return undefined;
    const b = this.blocks.get(e.height);
    if (!b) return undefined;
    const p: ProofJson = {
      leaf: toHex(merkleLeafHash(e.bytes)),
      index: 0,
      height: e.height,
      proof: merkleInclusionProof(b.txs, 0).map(toHex),
      header: b.header,
      certificate: b.certificate,
    };
    const r = this.receipts.get(e.height);
    if (!r) return p;
    Object.assign(p, { receipt: toHex(r.receipt), receiptProof: [], receiptsRoot: toHex(r.root) });
    const newest = this.blocks.get(this.head)!;
    if (newest.stateHeight < e.height) return p; // no certified header cites that state yet
    const leaves = this.leavesAt(newest.stateHeight);
    p.outcome = {
      stateProof: toHex(encodeStateProof(smtProof(leaves, receiptsRootKey(e.height)))),
      height: this.head,
      header: newest.header,
      certificate: newest.certificate,
      stateHeight: newest.stateHeight,
      stateAsOf: newest.stateHeight,
    };
    return p;
  }

  /** Commits every pending transaction, one block each, in admission order. */
  commitPending(): void {
    for (const p of this.pendingTxs.splice(0)) {
      const height = this.newBlock([p.bytes]);
      let code: string | undefined;
      if (this.rejectNext && this.rejectNext.count > 0) {
        this.rejectNext.count--;
        code = this.rejectNext.code;
      }
      const lt: LedgerTx = { ...p, height, ...(code === undefined ? {} : { code }) };
      if (this.keepReceipts) {
        const txId = fromHex(p.id);
        const r: Receipt =
          code === undefined ? { status: 'accepted', txId } : { status: 'rejected', code, txId };
        const receipt = encodeReceiptBytes(r);
        const root = merkleRoot([receipt]);
        this.receipts.set(height, { receipt, root });
        this.writeState(height, receiptsRootKey(height), encodeReceiptsRootValue(root));
        // Executed, accepted or rejected by the state machine: the nonce is consumed (docs/state-machine.md).
        this.writeState(height, accountNonceKey(p.tx.sender), encodeCanonical(p.tx.nonce));
      }
      (code === undefined ? this.committed : this.rejected).push(lt);
      this.byId.set(p.id, lt);
      this.lastNonce.set(toHex(p.tx.sender), p.tx.nonce);
      for (const l of this.blockListeners) l(lt.height, [lt.id]);
      if (this.keepReceipts && this.citeMode === 'immediate') this.citeState();
    }
  }

  /** A block without transactions that cites the newest state (ADR 0125's idle primary). */
  citeState(): void {
    const height = this.newBlock([]);
    for (const l of this.blockListeners) l(height, []);
  }

  /** Appends block head + 1 holding `txs`, citing the state after the block before it. */
  private newBlock(txs: Uint8Array[]): number {
    const height = ++this.head;
    if (this.certifiers) {
      // The state after the block before this one: this block's writes come after it is made.
      const stateRoot = this.keepReceipts ? smtHash(this.leavesAt(height - 1)) : ZERO_HASH;
      this.blocks.set(
        height,
        certifiedBlock(this.chainId, height, txs, this.certifiers, undefined, stateRoot),
      );
    }
    return height;
  }

  /** Forgets the mempool (a node restart): pending transactions become unknown. */
  dropPending(): void {
    for (const p of this.pendingTxs.splice(0)) this.byId.delete(p.id);
  }

  status(id: string): { id: string; status: string; height?: number; code?: string } {
    const e = this.byId.get(id);
    if (!e) return { id, status: 'unknown' };
    if ('height' in e) {
      return e.code === undefined
        ? { id, status: 'committed', height: e.height }
        : { id, status: 'rejected', height: e.height, code: e.code };
    }
    return { id, status: 'pending' };
  }

  account(sender: string): { nonce: number; pendingNonce: number } {
    const nonce = this.lastNonce.get(sender) ?? 0;
    let pendingNonce = nonce;
    for (const p of this.pendingTxs)
      if (toHex(p.tx.sender) === sender) pendingNonce = Math.max(pendingNonce, p.tx.nonce);
    return { nonce, pendingNonce };
  }

  /** Transactions held: executable ones waiting for commitPending() and ones parked behind a gap. */
  get mempoolSize(): number {
    let n = this.pendingTxs.length;
    for (const m of this.parked.values()) n += m.size;
    return n;
  }

  /**
   * Lets a test consume a nonce behind the device's back (another holder of the key). With keepReceipts
   * it is a block of its own that writes the account's nonce (its transactions are not modelled), and
   * with citeMode 'immediate' a certified header cites that state at once.
   */
  forceNonce(sender: string, nonce: number): void {
    this.lastNonce.set(sender, nonce);
    if (!this.keepReceipts) return;
    const height = this.newBlock([]);
    this.writeState(height, accountNonceKey(fromHex(sender)), encodeCanonical(nonce));
    if (this.citeMode === 'immediate') this.citeState();
  }

  /** Records that block `height` wrote `value` under `key`. */
  private writeState(height: number, key: Uint8Array, value: Uint8Array): void {
    this.stateWrites.push({
      height,
      key: toHex(key),
      value,
      leaf: { keyHash: keyHashOf(key), valueHash: valueHashOf(value) },
    });
  }

  /** The state's leaves after block `height`: each key's last write at or before it. */
  private leavesAt(height: number): SmtLeaf[] {
    const latest = new Map<string, SmtLeaf>();
    for (const w of this.stateWrites) if (w.height <= height) latest.set(w.key, w.leaf);
    return [...latest.values()];
  }

  /** The value under `key` (hex) after block `height` (undefined: absent). */
  private valueAt(height: number, key: string): Uint8Array | undefined {
    let v: Uint8Array | undefined;
    for (const w of this.stateWrites) if (w.height <= height && w.key === key) v = w.value;
    return v;
  }

  /**
   * `GET /v1/proofs/{key}` as the node answers it: the proof of `key` (hex) in the state the header of
   * block `at` (default: the newest) cites, or undefined when there is no such certified block or the
   * ledger keeps no state (keepReceipts off).
   */
  stateProof(key: string, at = this.head): StateProofJson | undefined {
    const b = this.blocks.get(at);
    if (!b || !this.keepReceipts || !this.certifiers) return undefined;
    const leaves = this.leavesAt(b.stateHeight);
    const value = this.valueAt(b.stateHeight, key);
    return {
      key,
      value: value === undefined ? null : toHex(value),
      stateHeight: b.stateHeight,
      stateAsOf: b.stateHeight,
      root: toHex(smtHash(leaves)),
      proof: toHex(encodeStateProof(smtProof(leaves, fromHex(key)))),
      height: at,
      header: b.header,
      certificate: b.certificate,
      validators: this.certifiers.map((s) => toHex(s.publicKey)),
    };
  }

  private nextNonce(sender: string): number {
    let n = this.lastNonce.get(sender) ?? 0;
    for (const p of this.pendingTxs) if (toHex(p.tx.sender) === sender) n = Math.max(n, p.tx.nonce);
    return n + 1;
  }
}

function problem(reply: FastifyReply, status: number, code: string, title: string) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://vigil.example/problems/${code.toLowerCase()}`,
      title,
      status,
      code,
      detail: title,
    });
}

const STATUS_OF: Record<string, number> = {
  DUPLICATE_TX: 409,
  MEMPOOL_FULL: 503,
  NONCE_TOO_LOW: 409,
  NONCE_TAKEN: 409,
  ACCOUNT_LIMIT: 429,
};

/**
 * How a lying node answers about the transactions it swallowed (took with 202, never passed on):
 * - 'noProof': status committed, proof 404 TX_NOT_FOUND;
 * - 'strangers': a proof of a block holding the transaction, certified by a quorum of another set;
 * - 'minority': the same block certified by `colluders` only (too few of the real set);
 * - 'otherTx': the genuine proof of another, really committed, transaction.
 * These relay submissions to the ledger and lie about outcomes (keepReceipts):
 * - 'forgedReceipt': says `committed` for a rejected transaction and serves its proof with an
 *   `accepted` receipt in place of the real one (with `ownRoot`, also a receipts root over it);
 * - 'hidesRejection': says `committed` for a rejected transaction, and serves the genuine proof;
 * - 'withholdsOutcome': honest, but never serves `outcome`.
 * These say a transaction was rejected when it was not:
 * - 'claimsRejection': status `rejected` with `code` for every transaction it is asked about that is in
 *   a block (or, with `swallow`, that it took and never passed on), and as proof `proof`: 'genuine' (the
 *   ledger's, which shows the truth), 'none' (404), 'forged' (the genuine one with a rejected receipt
 *   in place of the accepted one) or 'garbage' (a header that does not decode);
 * - 'refusesSubmissions': answers every submission with the admission refusal `code` (400), unsent.
 * This one lies about the device's account nonce (ADR 0131):
 * - 'claimsNonce': answers every submission with `code` (NONCE_TOO_LOW, NONCE_GAP, ACCOUNT_LIMIT...),
 *   unsent; `/v1/accounts` says `nonce` (when given); and `/v1/proofs` of a key serves `proof`:
 *   'genuine' (the ledger's, which shows the truth), 'none' (404), 'garbage' (a header that does not
 *   decode), 'stale' (a genuine proof against the first certified block, an old state) or 'forged'
 *   (the genuine proof with `value` replaced by `nonce`).
 */
export type Lie =
  | { kind: 'noProof' }
  | { kind: 'strangers'; signers: readonly Signer[] }
  | { kind: 'minority'; signers: readonly Signer[]; colluders: readonly number[] }
  | { kind: 'otherTx' }
  | { kind: 'forgedReceipt'; ownRoot?: boolean }
  | { kind: 'hidesRejection' }
  | { kind: 'withholdsOutcome' }
  | {
      kind: 'claimsRejection';
      code: string;
      proof: 'genuine' | 'none' | 'forged' | 'garbage';
      swallow?: boolean;
    }
  | { kind: 'refusesSubmissions'; code: string }
  | {
      kind: 'claimsNonce';
      code: string;
      nonce?: number;
      proof: 'genuine' | 'none' | 'garbage' | 'stale' | 'forged';
    };

const SWALLOWS: ReadonlySet<Lie['kind']> = new Set(['noProof', 'strangers', 'minority', 'otherTx']);

/** A proof answer whose header does not decode (a node serving garbage). */
function garbageProof(height: number): ProofJson {
  return { leaf: '00', index: 0, height, proof: [], header: 'ff', certificate: 'ff' };
}

export class FakeNode {
  readonly ledger: FakeLedger;
  private app: FastifyInstance | undefined;
  private port = 0;
  private readonly lie: Lie | undefined;
  /** A liar's swallowed transactions: id -> [bytes, the height it claims]. */
  private readonly swallowed = new Map<string, { bytes: Uint8Array; height: number }>();
  /** Proof requests answered, by id (to count them). */
  readonly proofRequests: string[] = [];
  /** State proof requests answered, by key (hex). */
  readonly stateProofRequests: string[] = [];
  /** `/v1/accounts` requests answered, by key (hex). */
  readonly accountRequests: string[] = [];

  constructor(ledger: FakeLedger, port = 0, opts: { lie?: Lie } = {}) {
    this.ledger = ledger;
    this.port = port;
    this.lie = opts.lie;
  }

  /** As the ledger, or, for a liar, swallow it (a valid-looking 202) and claim it committed later. */
  private admit(bytes: Uint8Array): { id: string } | { code: string; title: string } {
    if (this.lie?.kind === 'refusesSubmissions' || this.lie?.kind === 'claimsNonce') {
      return { code: this.lie.code, title: 'refused by a liar' };
    }
    const swallows =
      this.lie !== undefined &&
      (SWALLOWS.has(this.lie.kind) || (this.lie.kind === 'claimsRejection' && this.lie.swallow === true));
    if (!swallows) return this.ledger.admit(bytes);
    try {
      const id = toHex(transactionId(decodeTransaction(bytes, { chainId: this.ledger.chainId })));
      if (!this.swallowed.has(id)) {
        this.swallowed.set(id, { bytes: bytes.slice(), height: this.ledger.height + 1 });
      }
      return { id };
    } catch (e) {
      return { code: 'MALFORMED', title: (e as Error).message };
    }
  }

  private proofFor(id: string): ProofJson | undefined {
    const s = this.swallowed.get(id);
    if (!s || !this.lie) return this.outcomeLie(id, this.ledger.proof(id));
    const chain = this.ledger.chainId;
    switch (this.lie.kind) {
      case 'forgedReceipt':
      case 'hidesRejection':
      case 'withholdsOutcome':
      case 'refusesSubmissions':
      case 'claimsNonce':
        return undefined; // they swallow nothing
      case 'claimsRejection':
        return this.lie.proof === 'garbage' ? garbageProof(s.height) : undefined;
      case 'noProof':
        return undefined;
      case 'strangers':
        return certifiedProof(chain, s.height, [s.bytes], 0, this.lie.signers);
      case 'minority':
        return certifiedProof(chain, s.height, [s.bytes], 0, this.lie.signers, this.lie.colluders);
      case 'otherTx': {
        const other = this.ledger.committed[0];
        return other && this.ledger.proof(other.id);
      }
    }
  }

  /** The genuine proof `p` of `id`, as a node lying about outcomes serves it. */
  private outcomeLie(id: string, p: ProofJson | undefined): ProofJson | undefined {
    if (p === undefined) return p;
    if (this.lie?.kind === 'claimsRejection') {
      switch (this.lie.proof) {
        case 'genuine':
          return p;
        case 'none':
          return undefined;
        case 'garbage':
          return garbageProof(p.height);
        case 'forged': {
          const txId = fromHex(id);
          const forged = encodeReceiptBytes({ status: 'rejected', code: this.lie.code, txId });
          return { ...p, receipt: toHex(forged) };
        }
      }
    }
    if (this.lie?.kind === 'withholdsOutcome') {
      const { outcome: _, ...rest } = p;
      return rest;
    }
    if (this.lie?.kind === 'forgedReceipt' && this.ledger.status(id).status === 'rejected') {
      const forged = encodeReceiptBytes({ status: 'accepted', txId: fromHex(id) });
      return {
        ...p,
        receipt: toHex(forged),
        ...(this.lie.ownRoot ? { receiptsRoot: toHex(merkleRoot([forged])) } : {}),
      };
    }
    return p;
  }

  /** `GET /v1/proofs/{key}`: the ledger's proof, or what a nonce liar serves instead. */
  private stateProofFor(key: string): StateProofJson | undefined {
    const p = this.ledger.stateProof(key);
    if (this.lie?.kind !== 'claimsNonce' || p === undefined) return p;
    switch (this.lie.proof) {
      case 'genuine':
        return p;
      case 'none':
        return undefined;
      case 'garbage':
        return { ...p, header: 'ff' };
      case 'stale':
        return this.ledger.stateProof(key, 1);
      case 'forged':
        return { ...p, value: toHex(encodeCanonical(this.lie.nonce ?? 1_000)) };
    }
  }

  /** Whether this node says `committed` for transactions the ledger rejected. */
  private get hidesRejections(): boolean {
    return this.lie?.kind === 'forgedReceipt' || this.lie?.kind === 'hidesRejection';
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.app !== undefined;
  }

  /** Starts (or restarts, on the same port) the HTTP server. */
  async start(): Promise<string> {
    const app = Fastify({ logger: false, bodyLimit: 8 << 20, forceCloseConnections: true });
    app.addContentTypeParser(
      ['application/cbor', 'application/cbor-seq'],
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    const L = this.ledger;
    app.post('/v1/transactions', async (req, reply) => {
      const body = new Uint8Array(req.body as Buffer);
      if (req.headers['content-type'] === 'application/cbor-seq') {
        let items: Uint8Array[];
        try {
          items = splitCborSequence(body);
        } catch {
          return problem(reply, 400, 'MALFORMED', 'not a CBOR sequence');
        }
        const results = items.map((b) => {
          const r = this.admit(b);
          // As the node (node/src/api/routes/transactions.ts): each refusal carries its own HTTP status.
          return 'id' in r
            ? { id: r.id }
            : { error: { code: r.code, title: r.title, status: STATUS_OF[r.code] ?? 400 } };
        });
        return reply.code(202).send({ results });
      }
      const r = this.admit(body);
      if ('id' in r) return reply.code(202).send({ id: r.id });
      return problem(reply, STATUS_OF[r.code] ?? 400, r.code, r.title);
    });
    app.get('/v1/transactions/:id', async (req) => {
      const id = (req.params as { id: string }).id;
      const s = this.swallowed.get(id);
      const lie = this.lie;
      if (lie?.kind === 'claimsRejection') {
        const height = s?.height ?? L.status(id).height;
        if (height !== undefined) return { id, status: 'rejected', height, code: lie.code };
      }
      if (s) return { id, status: 'committed', height: s.height };
      const st = L.status(id);
      return st.status === 'rejected' && this.hidesRejections
        ? { id, status: 'committed', height: st.height }
        : st;
    });
    app.get('/v1/transactions/:id/proof', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      this.proofRequests.push(id);
      const p = this.proofFor(id);
      return p ?? problem(reply, 404, 'TX_NOT_FOUND', 'No committed transaction with this id');
    });
    app.get('/v1/accounts/:key', async (req) => {
      this.accountRequests.push((req.params as { key: string }).key);
      const lie = this.lie;
      if (lie?.kind === 'claimsNonce' && lie.nonce !== undefined) {
        return { nonce: lie.nonce, pendingNonce: lie.nonce };
      }
      return L.account((req.params as { key: string }).key);
    });
    app.get('/v1/proofs/:key', async (req, reply) => {
      const key = (req.params as { key: string }).key;
      if (!/^(?:[0-9a-f]{2})+$/.test(key)) return problem(reply, 400, 'MALFORMED', 'key is not hex');
      this.stateProofRequests.push(key);
      const p = this.stateProofFor(key);
      return p ?? problem(reply, 404, 'NO_CERTIFIED_STATE', 'No committed block yet to verify against');
    });
    app.get('/v1/status', async () => ({
      chainId: L.chainId,
      ...(L.genesisHash === undefined ? {} : { genesisHash: L.genesisHash }),
      height: L.height,
      view: 0,
      time: L.clock(),
      mempool: { size: L.mempoolSize },
    }));
    app.get('/v1/events', (req, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      reply.raw.write(': vigil fake node\n\n');
      const listener = (height: number, txIds: string[]) => {
        reply.raw.write(`event: block\ndata: ${JSON.stringify({ height, txIds })}\n\n`);
      };
      L.blockListeners.add(listener);
      req.raw.on('close', () => L.blockListeners.delete(listener));
    });
    await app.listen({ port: this.port, host: '127.0.0.1' });
    this.port = (app.server.address() as AddressInfo).port;
    this.app = app;
    return this.url;
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }
}
