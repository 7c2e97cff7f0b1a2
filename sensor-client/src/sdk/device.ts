// A device (or gateway) that reports one patient's readings: sign -> persist -> send -> confirm -> forget.
// Node only (it owns files). Guarantees, and how (ADR 0060, docs/sensor-client.md):
// - No reading is lost: `submitReadings` returns only after the signed transaction is fsynced in the
//   queue; it leaves the queue only once it is known committed (or, with confirm: 'accepted', admitted
//   to a mempool), so device crashes and node outages just delay delivery. "Known committed" means, with
//   `validatorSets` configured, an inclusion proof of the device's own bytes under a commit certificate
//   of a trusted set (a Byzantine node cannot make the device forget readings by claiming a commit),
//   and with `requireOutcomeProof` also a certified state showing the block ACCEPTED them (ADR 0123);
//   without a set, a node's word (the start-up warning says so). Likewise with `requireOutcomeProof` a
//   reading is given up (dead-lettered) only when a certified state shows the block REJECTED it, or
//   when the device's own check of its bytes confirms a node's admission refusal: a Byzantine node
//   cannot make it give up valid readings by calling them rejected. Nor re-sign them under other nonces
//   on a node's word: a nonce a node says is used, or out of reach, is weighed against the account's
//   nonce proven by a certified state (ADR 0131).
// - No reading is duplicated: a queued transaction is resent byte for byte, so its id is the same and
//   the node dedups it (DUPLICATE_TX counts as success). When a transaction must be re-signed (its
//   nonce was consumed elsewhere, or it aged out of the node's timestamp window) we first ask the nodes
//   about every id it ever had; re-signed versions keep their nonce order, and at most one transaction
//   per nonce can ever commit.
// - Order: entries are sent oldest first and nonces increase in queue order, so the chain sees batches
//   in measurement order.

import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CborValue,
  decodeCanonical,
  decodeTransaction,
  encodeCanonical,
  type Signer,
  transactionId,
} from '@vigil/consensus/wire';
import { decodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import { fromHex, toHex } from '../util/hex.ts';
import {
  NodeClient,
  type NodeClientOptions,
  type NodeStatus,
  RETRYABLE_PROBLEMS,
  type SubmitResult,
} from './api-client.ts';
import { accountNonceKeyHex, verifyAccountNonce } from './account-proof.ts';
import { DEFAULT_BACKOFF, type BackoffOptions, backoffDelay } from './backoff.ts';
import {
  type ChainRecord,
  describeChain,
  isGenesisHash,
  otherChainError,
  readChainRecord,
  writeChainRecord,
} from './chain-binding.ts';
import { estimateSkew, isSkewBeyond } from './clock.ts';
import {
  checkTrustedSets,
  type TrustedValidatorSet,
  verifyCommitOutcome,
  verifyCommitProof,
} from './commit-trust.ts';
import { SdkError } from './errors.ts';
import { NonceStore } from './nonce-store.ts';
import { DurableQueue, type QueueOptions } from './queue.ts';
import { refusalHolds } from './refusals.ts';
import { buildSubmitReadings, type DeviceReading, type SignedTx, signBody } from './transactions.ts';

/** Clock skew nodes accept for measurement times ahead of the block time (readingMaxFutureMs default). */
export const DEFAULT_ACCEPTED_SKEW_MS = 30_000;

export type DeviceEvent =
  | { type: 'queued'; seq: number; id: string; nonce: number; readings: number }
  | { type: 'accepted'; seq: number; id: string; duplicate: boolean }
  /**
   * `verified`: an inclusion proof under a trusted commit certificate was checked (validatorSets), and
   * with requireOutcomeProof the proof that the block accepted the transaction too.
   */
  | { type: 'delivered'; seq: number; id: string; height?: number; verified: boolean }
  /**
   * A node said `id` committed but no configured node proved it (`error.code` COMMIT_UNVERIFIED,
   * `error.problemCode` the first reason, RECEIPT_REJECTED when a node proved the block rejected it,
   * OUTCOME_UNAVAILABLE when no node served the outcome for OUTCOME_UNAVAILABLE_AFTER_MS; `reasons`
   * per node asked, `detail` e.g. the receipt's code). The entry stays queued.
   * With requireOutcomeProof, also a node's word against a transaction that the device did not act on
   * (problemCode REJECTION_UNPROVEN: `rejected` that no node proved, the entry stays queued;
   * REFUSAL_UNFOUNDED: an admission refusal its own check of the bytes contradicts, the entry stays
   * queued; RECEIPT_ACCEPTED: `rejected`, but a node proved the block accepted it, and the entry is
   * delivered). The device stops preferring `node` in each case.
   */
  | {
      type: 'commitUnverified';
      seq: number;
      id: string;
      node: string;
      reasons: CommitReason[];
      error: SdkError;
    }
  /**
   * With requireOutcomeProof (ADR 0131): a node's claim about the device's account nonce that would
   * make it re-sign queued readings under other nonces (`claim`: NONCE_TOO_LOW, ACCOUNT_LIMIT, or
   * NONCE_GAP; or the code of a proven rejection whose re-sign found no proven nonce to number the rest
   * from) and that it did not act on; the entry (`seq`, `id`, `nonce`) stays queued, same bytes, and
   * `node` is no longer preferred. `error` is SdkError NONCE_UNPROVEN with `problemCode`:
   * NONCE_CLAIM_FALSE (a certified state, or the entry's own proven commit, contradicts the claim: said
   * at once), NONCE_NOT_PROVEN (proofs verify, but none shows the claim, for NONCE_UNPROVEN_AFTER_MS)
   * or NO_NONCE_PROOF (no node served a proof that verifies, for as long; `reasons` per node).
   * `proven`: the highest account nonce a node proved, the state it is of, and that node.
   */
  | {
      type: 'nonceUnproven';
      seq: number;
      id: string;
      nonce: number;
      node: string;
      claim: string;
      proven?: ProvenNonceState;
      reasons: CommitReason[];
      error: SdkError;
    }
  /** Once at open without validatorSets: commits are taken on the node's word (code NO_TRUST_ANCHOR). */
  | { type: 'trustWarning'; code: 'NO_TRUST_ANCHOR'; message: string }
  | { type: 'blocked'; reason: string; retryInMs: number }
  | { type: 'clockSkew'; skewMs: number; rttMs: number; acceptedSkewMs: number; node: string }
  | { type: 'resigned'; count: number; reason: string; firstNonce: number }
  | { type: 'deadLetter'; seq: number; id: string; code: string }
  | { type: 'queueFull'; size: number };

/** An account nonce a node proved (verifyAccountNonce): a lower bound of the nonce now. */
export interface ProvenNonceState {
  nonce: number;
  /** The state the certified header cites (the proof reads it, or an earlier one with k > 1). */
  stateHeight: number;
  node: string;
}

/** Why one node's answer did not prove a commit. */
export interface CommitReason {
  node: string;
  code: string;
  detail?: string;
}

export interface DeviceConfig {
  /**
   * Holds queue.log, nonce.json, deadletter.jsonl and chain.json (the chain it was made for: a
   * directory made for another chain is refused, DATA_DIR_OTHER_CHAIN).
   */
  dataDir: string;
  chainId: string;
  /**
   * The chain's genesis hash (64 hex, `/v1/status` genesisHash), provisioned with the chain id: it tells
   * apart chains that share an id. Without it the device records the hash the first node serves.
   */
  genesisHash?: string;
  /** The patient this device is bound to (bindDevice). */
  patient: Uint8Array;
  signer: Signer;
  nodes: readonly string[];
  queue?: QueueOptions;
  /** Passed to NodeClient (fetch, timeouts); maxRounds defaults to 1 here: the device loop backs off. */
  client?: Omit<NodeClientOptions, 'nodes'>;
  /** When a queued transaction may be forgotten (default 'committed'). */
  confirm?: 'committed' | 'accepted';
  /**
   * Trust anchor, provisioned by the hospital (genesis.json `validators` in index order:
   * trustedSetFromGenesis), never taken from the nodes. When set, an entry leaves the queue only after
   * a node served an inclusion proof that verifies with the device's own transaction bytes under a
   * quorum certificate of the set covering the block's height. Re-provision when membership changes
   * (ADR 0015/0041): blocks of an epoch no configured set covers stay unverified, and their entries
   * queued (event commitUnverified). Without it, commits are taken on the node's word (warned at open).
   */
  validatorSets?: readonly TrustedValidatorSet[];
  /**
   * The chain's state commits to receipts (genesis `consensus.receiptsRoots`, ADR 0123; trustFromGenesis
   * reads it). Then an entry also needs the outcome proof: a certified state holding the block's
   * receipts root, under which the transaction's receipt says `accepted`. An inclusion proof alone only
   * shows a block carried the transaction, and blocks carry rejected ones too. Requires validatorSets.
   */
  requireOutcomeProof?: boolean;
  /** Most transactions per POST (application/cbor-seq). */
  batchSize?: number;
  /** Resend an accepted but not yet committed transaction after this long (mempool eviction). */
  resendAfterMs?: number;
  /**
   * Before sending, re-sign (same nonce, fresh timestamp) a queued transaction signed longer ago than
   * this, so it stays inside the nodes' timestamp window after an outage. Default 5 min.
   */
  resignAfterMs?: number;
  acceptedSkewMs?: number;
  /** How often the run loop re-checks the clock against a node. */
  clockCheckIntervalMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
  random?: () => number;
  onEvent?: (e: DeviceEvent) => void;
  /** Warnings (clock skew, dead letters). Default console.warn. */
  log?: (message: string) => void;
}

export type FlushOutcome = 'idle' | 'progress' | 'waiting' | 'blocked';

interface Entry {
  seq: number;
  bytes: Uint8Array;
  id: string;
  nonce: number;
  timestamp: number;
  /** Signing key (hex): after a key rotation the queue may still hold the old key's transactions. */
  sender: string;
  /** Ids of earlier signed versions of the same readings. */
  priorIds: string[];
  /** Bytes of the most recent earlier versions (MAX_PRIOR_TX_BYTES): to verify one that committed. */
  priorTxs: Uint8Array[];
}

/**
 * Errors after which the device must stop rather than retry: it is configured for, or its data directory
 * belongs to, another chain than the nodes serve.
 */
export const FATAL_DEVICE_CODES: ReadonlySet<string> = new Set([
  'CHAIN_MISMATCH',
  'DATA_DIR_OTHER_CHAIN',
  'DATA_DIR_UNBOUND',
]);

/** The blocked event's reason when nothing more precise was found during the flush. */
const NO_NODE_ACCEPTED = 'no node accepted the batch';

/** Codes after which resending the same bytes cannot succeed but re-signing can. */
const RESIGN_CODES: ReadonlySet<string> = new Set(['NONCE_TOO_LOW', 'TIMESTAMP_OUT_OF_WINDOW']);
/**
 * Refusals that say nothing against the transaction itself, so repair() may re-sign but never
 * dead-letters it. ACCOUNT_LIMIT (429) means "too many of your transactions are pending here" (repair
 * finds one pending and waits) or "this nonce is over 256 ahead of what this node has committed" (a
 * node lagging behind the chain, or a nonce store ahead of the chain: repair re-syncs from the account).
 */
const NEVER_DEAD_LETTER: ReadonlySet<string> = new Set([...RESIGN_CODES, 'ACCOUNT_LIMIT']);
/** Codes that say "not now" rather than "never": resend later. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  ...RETRYABLE_PROBLEMS,
  // Another pending transaction holds this nonce (an earlier signed version of the same entry): wait.
  'NONCE_TAKEN',
  'NONCE_TOO_HIGH',
  'NONCE_GAP',
]);
/**
 * Earlier signed versions remembered per entry. Versions are only made after a node answered, and an
 * already-committed version is detected (NONCE_TOO_LOW -> repair) at the next send, so only the most
 * recent few can matter; the cap bounds the entry size and repair's status queries.
 */
const MAX_PRIOR_IDS = 64;
/** Node mempools admit tx timestamps in [now - 10 min, now + 30 s] (node/src/mempool DEFAULT_MEMPOOL_LIMITS). */
export const DEFAULT_RESIGN_AFTER_MS = 5 * 60_000;

/**
 * Bytes budget for earlier versions kept in an entry. Proving that an earlier version committed takes its
 * bytes (a node serves none of a patient's transaction to an unsigned request, and the leaf hash alone
 * does not say which transaction it is); a handful of recent versions covers the races that make one
 * commit (a re-sign while the old one sat in a mempool), and the budget keeps entries far below
 * MAX_QUEUE_PAYLOAD.
 */
const MAX_PRIOR_TX_BYTES = 64 * 1024;
/**
 * Receipt codes that say nothing final about the transaction id (node/src/api/routes/transactions.ts
 * NOT_FINAL_FOR_ID, and DUPLICATE_TX): the bytes sat in a block but that execution did not consume their
 * nonce, so the same transaction may commit, or have committed, at another position. A Byzantine
 * primary can put a device's transaction in a block before its predecessor (NONCE_GAP) or a second time
 * (DUPLICATE_TX), and the certified receipt of that copy must not make the device give the readings up.
 * (NONCE_TOO_LOW is final for the id, and repair() re-signs on it, never dead-letters.)
 */
const NOT_FINAL_RECEIPTS: ReadonlySet<string> = new Set(['BAD_SIGNATURE', 'NONCE_GAP', 'DUPLICATE_TX']);
/** Proof requests in flight at once while confirming commits. */
const PROOF_CONCURRENCY = 8;
/**
 * While the node that claimed a commit serves a valid inclusion proof without the outcome, only it is
 * asked (the outcome follows within a block or k, ADR 0125); after this long the other nodes are asked
 * too, so a node that withholds outcomes delays a deletion by this much, not forever.
 */
export const OUTCOME_ASK_OTHERS_AFTER_MS = 5_000;
/**
 * After this long with no node serving the outcome (every one answering "no outcome yet"), the device
 * says so (commitUnverified OUTCOME_UNAVAILABLE), once per such period, and keeps the entry and asking:
 * far beyond what a live chain takes (seconds), so it means every node withholds it or the chain stopped.
 */
export const OUTCOME_UNAVAILABLE_AFTER_MS = 120_000;
/**
 * A node's NONCE_TOO_LOW (or ACCOUNT_LIMIT) that no certified state supports is not acted on, yet may
 * be true: the state a header cites lags the newest block (ADR 0010, 0117), by a block or k on a busy
 * chain and by about 5 s on a quiet one (ADR 0125). After this long of such claims about one entry the
 * device says so (nonceUnproven NONCE_NOT_PROVEN, or NO_NONCE_PROOF), once per such period, and keeps
 * the entry and asking. The bound of outcomes, which wait for the same thing: a certified state that
 * covers a recent block (ADR 0131).
 */
export const NONCE_UNPROVEN_AFTER_MS = OUTCOME_UNAVAILABLE_AFTER_MS;

function keepPriorTxs(txs: Uint8Array[]): Uint8Array[] {
  const kept: Uint8Array[] = [];
  let n = 0;
  for (let i = txs.length - 1; i >= 0; i--) {
    n += txs[i]!.length;
    if (n > MAX_PRIOR_TX_BYTES) break;
    kept.unshift(txs[i]!);
  }
  return kept;
}

// Entry layout [1, tx bytes, prior ids, prior tx bytes]; entries written before prior bytes were kept
// have three elements and decode with none.
function encodeEntry(bytes: Uint8Array, priorIds: string[], priorTxs: Uint8Array[] = []): Uint8Array {
  return encodeCanonical([1, bytes, priorIds.map(fromHex), keepPriorTxs(priorTxs)]);
}

/**
 * Result of checking one claimed commit against the trust anchor: proven; an inclusion proven but no
 * outcome served yet (requireOutcomeProof; not a failure, asked again later); or unverified (`rejected`
 * when a node proved the block rejected it).
 */
type CommitCheck =
  | { kind: 'proven'; height: number }
  | { kind: 'awaitingOutcome'; reasons: CommitReason[] }
  | { kind: 'unverified'; reasons: CommitReason[]; answered: boolean; rejected?: CommitReason };

/**
 * What the configured nodes proved about transaction `id`'s outcome (checkOutcome): accepted or (finally)
 * rejected, by `node`, with the reasons of the nodes asked before it; an inclusion proven but no outcome
 * served yet; or nothing (`answered` when some node answered rather than failed to).
 */
type OutcomeCheck =
  | { kind: 'accepted'; height: number; node: string; reasons: CommitReason[] }
  | { kind: 'rejected'; code: string; node: string; reasons: CommitReason[] }
  | { kind: 'awaitingOutcome'; reasons: CommitReason[] }
  | { kind: 'unverified'; reasons: CommitReason[]; answered: boolean };

/**
 * What a node's `rejected` comes to (settleRejection): a rejection to act on with its (proven) code,
 * or the entry was delivered after all (proven accepted), or it waits for the outcome, or the claim
 * was unproven (reported, the entry kept).
 */
type RejectionVerdict =
  | { kind: 'final'; code: string }
  | { kind: 'delivered' }
  | { kind: 'waiting'; reported: boolean }
  | { kind: 'unverified' };

/**
 * What the configured nodes proved about an account's nonce (provenNonce): the highest proven, if any
 * verified, and why each other answer did not count.
 */
interface ProvenNonce {
  best?: ProvenNonceState;
  reasons: CommitReason[];
}

/** A nonce claim about entry `seq` (version `id`) not acted on, waiting for a certified state (ADR 0131). */
interface NonceWait {
  id: string;
  nonce: number;
  /** The nodes that said NONCE_TOO_LOW about `id`: refuted if `id` itself is proven committed. */
  claimants: Set<string>;
  since: number;
  warnedAt: number;
}

export class Device {
  readonly publicKeyHex: string;
  readonly client: NodeClient;
  private readonly cfg: DeviceConfig;
  private readonly queue: DurableQueue;
  private readonly nonces: NonceStore;
  private readonly now: () => number;
  private readonly random: () => number;
  private lastNonce: number;
  /** id -> when a node accepted it (memory only: after a restart we simply resend, idempotently). */
  private readonly accepted = new Map<string, number>();
  private closed = false;
  private wake: (() => void) | undefined;
  private lastClockCheck = Number.NEGATIVE_INFINITY;
  private readonly trusted: TrustedValidatorSet[] | undefined;
  /**
   * Per transaction id whose inclusion verified but whose outcome no node served yet: since when, and
   * when OUTCOME_UNAVAILABLE was last said. Memory only: a restart just waits afresh.
   */
  private readonly outcomeWaits = new Map<string, { since: number; warnedAt: number }>();
  /** Per entry (seq): a nonce claim not acted on (requireOutcomeProof). Memory only, as outcomeWaits. */
  private readonly nonceWaits = new Map<number, NonceWait>();
  /** Why the last flush was 'blocked' (the run loop's blocked event). */
  private blockedReason = NO_NODE_ACCEPTED;
  /** The chain the data directory belongs to (chain.json); undefined while a legacy one is undecided. */
  private chain: ChainRecord | undefined;
  /** True once a node of the recorded chain answered: nothing is sent before (chain-binding.ts). */
  private bound = false;

  private constructor(cfg: DeviceConfig) {
    this.cfg = cfg;
    this.trusted = cfg.validatorSets === undefined ? undefined : checkTrustedSets(cfg.validatorSets);
    if (cfg.requireOutcomeProof === true && this.trusted === undefined) {
      // An outcome proof is only as good as the set that certifies it: without one it would prove nothing.
      throw new SdkError('USAGE', 'requireOutcomeProof needs validatorSets (trustFromGenesis gives both)');
    }
    this.now = cfg.now ?? Date.now;
    this.random = cfg.random ?? Math.random;
    this.publicKeyHex = toHex(cfg.signer.publicKey);
    if (cfg.genesisHash !== undefined && !isGenesisHash(cfg.genesisHash)) {
      throw new SdkError('USAGE', 'genesisHash must be 64 lower-case hex digits');
    }
    mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
    // Before the queue or nonce store is touched: a directory of another chain is refused unchanged.
    const queuePath = join(cfg.dataDir, 'queue.log');
    const noncePath = join(cfg.dataDir, 'nonce.json');
    const used = existsSync(queuePath) || existsSync(noncePath);
    this.chain = readChainRecord(cfg.dataDir);
    const configured: ChainRecord =
      cfg.genesisHash === undefined
        ? { chainId: cfg.chainId }
        : { chainId: cfg.chainId, genesisHash: cfg.genesisHash };
    if (
      this.chain !== undefined &&
      (this.chain.chainId !== cfg.chainId ||
        (cfg.genesisHash !== undefined &&
          this.chain.genesisHash !== undefined &&
          this.chain.genesisHash !== cfg.genesisHash))
    ) {
      throw otherChainError(cfg.dataDir, this.chain, configured, 'the device is configured for');
    }
    if (this.chain === undefined && !used) {
      // A new directory: it is this chain's from its first byte.
      this.chain = configured;
      writeChainRecord(cfg.dataDir, configured);
    } else if (
      this.chain !== undefined &&
      this.chain.genesisHash === undefined &&
      cfg.genesisHash !== undefined
    ) {
      this.chain = configured;
      writeChainRecord(cfg.dataDir, configured);
    }
    this.queue = DurableQueue.open(queuePath, cfg.queue);
    this.nonces = NonceStore.open(noncePath, this.publicKeyHex);
    if (this.chain === undefined && this.queue.size === 0) {
      // From before chain binding, nothing queued: adopt it. Its nonce may count another chain's
      // transactions, and one ahead of this chain's account would wait forever (a mempool parks a
      // nonce gap): restart it. On the same chain the first send is refused NONCE_TOO_LOW and repair()
      // re-syncs from the account; the latest measurement times are kept (they only refuse readings
      // older than ones already sent).
      this.chain = configured;
      writeChainRecord(cfg.dataDir, configured);
      this.nonces.record(0, true);
    }
    // A crash between queueing a signed batch and persisting its nonce leaves the queue ahead: trust it.
    // Likewise for the latest measurement time per kind (files from before it was stored have none).
    let last = this.nonces.lastAssigned;
    const queued: { kind: number; measuredAt: number }[] = [];
    for (const e of this.entries()) {
      const tx = decodeTransaction(e.bytes);
      // Entries still signed by a previous key (rotation) count for their own key's nonces, not ours.
      if (toHex(tx.sender) === this.publicKeyHex) last = Math.max(last, e.nonce);
      const body = decodeBody(tx.type, tx.body);
      if (body.type === 50) queued.push(...body.readings);
    }
    this.nonces.record(last, false, queued);
    this.lastNonce = last;
    this.client = new NodeClient({ maxRounds: 1, now: this.now, ...cfg.client, nodes: cfg.nodes });
    if (!this.trusted) {
      // Once per open, not per delivery: the risk is a property of the configuration.
      const message =
        (cfg.confirm ?? 'committed') === 'committed'
          ? "no validatorSets configured: commits are taken on the node's word, so a faulty node can make " +
            'this device drop readings that never reached the chain; provision the validator set'
          : "confirm 'accepted': readings leave the queue once a node admits them, before any commit";
      this.emit({ type: 'trustWarning', code: 'NO_TRUST_ANCHOR', message });
      this.warn(message);
    }
  }

  static open(cfg: DeviceConfig): Device {
    return new Device(cfg);
  }

  /** Pending (not yet confirmed) transactions. */
  get pendingCount(): number {
    return this.queue.size;
  }

  get lastAssignedNonce(): number {
    return this.lastNonce;
  }

  /** Signs readings (at most MAX_READINGS_PER_TX) into a transaction and queues it durably. */
  submitReadings(readings: readonly DeviceReading[]): { seq: number; id: string; nonce: number } {
    if (this.closed) throw new SdkError('CLOSED', 'device is closed');
    // The chain rejects the WHOLE batch (READING_NOT_INCREASING) if one time is not after this device's
    // last one for its kind; we know what we queued, so refuse now, when the caller can still act.
    readings.forEach((r, i) => {
      const prev = this.nonces.lastMeasuredAt(r.kind);
      if (prev !== undefined && r.measuredAt <= prev) {
        throw new SdkError(
          'READING_NOT_INCREASING',
          `readings[${i}]: kind ${r.kind} measured at ${r.measuredAt}, not after ${prev} already queued`,
        );
      }
    });
    const nonce = this.lastNonce + 1;
    const signed = buildSubmitReadings(this.ctx(nonce), this.cfg.patient, readings);
    let seq: number;
    try {
      seq = this.queue.enqueue(encodeEntry(signed.bytes, []));
    } catch (e) {
      if (e instanceof SdkError && e.code === 'QUEUE_FULL')
        this.emit({ type: 'queueFull', size: this.queue.size });
      throw e;
    }
    this.nonces.record(nonce, false, readings);
    this.lastNonce = nonce;
    this.emit({ type: 'queued', seq, id: signed.idHex, nonce, readings: readings.length });
    this.wake?.();
    return { seq, id: signed.idHex, nonce };
  }

  /** Compares the device clock with a node's; emits clockSkew (and logs) when beyond what nodes accept. */
  async checkClock(): Promise<{ skewMs: number; rttMs: number }> {
    const sentAt = this.now();
    const st = await this.client.status();
    const est = estimateSkew(sentAt, this.now(), st.time);
    this.lastClockCheck = sentAt;
    await this.checkChain(st, this.client.currentNode);
    const accepted = this.cfg.acceptedSkewMs ?? DEFAULT_ACCEPTED_SKEW_MS;
    if (isSkewBeyond(est, accepted)) {
      this.emit({ type: 'clockSkew', ...est, acceptedSkewMs: accepted, node: this.client.currentNode });
      this.warn(
        `device clock is ${Math.round(est.skewMs)} ms off node ${this.client.currentNode} (accepted: ${accepted} ms): ` +
          'readings may be rejected; fix the device clock (NTP)',
      );
    }
    return est;
  }

  /**
   * Checks that the node that served `st` is on the chain the device is configured for and its data
   * directory belongs to, and on first contact records the chain's genesis hash (or, for a directory
   * from before chain binding that holds queued readings, decides whether it is this chain's). Throws
   * CHAIN_MISMATCH, DATA_DIR_OTHER_CHAIN or DATA_DIR_UNBOUND; returns false when a node must be asked
   * again later.
   */
  private async checkChain(st: NodeStatus, node: string): Promise<boolean> {
    const cfg = this.cfg;
    if (st.chainId !== cfg.chainId) {
      throw new SdkError('CHAIN_MISMATCH', `node ${node} serves chain ${st.chainId}, not ${cfg.chainId}`);
    }
    if (cfg.genesisHash !== undefined && st.genesisHash !== undefined && st.genesisHash !== cfg.genesisHash) {
      throw new SdkError(
        'CHAIN_MISMATCH',
        `node ${node} serves chain ${describeChain({ chainId: st.chainId, genesisHash: st.genesisHash })}, ` +
          `not ${describeChain({ chainId: cfg.chainId, genesisHash: cfg.genesisHash })}`,
      );
    }
    const served: ChainRecord =
      st.genesisHash === undefined
        ? { chainId: st.chainId }
        : { chainId: st.chainId, genesisHash: st.genesisHash };
    if (this.chain === undefined && !(await this.adoptQueued(served, node))) return false;
    const rec = this.chain!;
    if (rec.genesisHash !== undefined && st.genesisHash !== undefined && st.genesisHash !== rec.genesisHash) {
      throw otherChainError(cfg.dataDir, rec, served, `node ${node} serves`);
    }
    if (rec.genesisHash === undefined && st.genesisHash !== undefined) {
      // Trust on first use: from now on the directory is this genesis's.
      this.chain = served;
      writeChainRecord(cfg.dataDir, served);
    }
    this.bound = true;
    return true;
  }

  /**
   * A directory from before chain binding still holding queued readings: adopt it for the chain `node`
   * serves only on evidence that the queue was made for that chain:
   * - the chain knows the oldest entry (committed, pending or rejected, under any of its version ids);
   * - or the oldest entry's nonce is the one right after the account's committed nonce, which is not 0:
   *   the queue continues this chain's history exactly (its head was sent but lost with a restarted
   *   node's mempool, or never sent). A new account (0) proves nothing: every chain's is 0.
   * Otherwise the readings may be another chain's: sending them here would stall on nonces this chain
   * never saw, or deliver them to the wrong network. Returns false when the node could not be asked.
   */
  private async adoptQueued(served: ChainRecord, node: string): Promise<boolean> {
    const head = this.entries(1)[0];
    if (head !== undefined) {
      let known = false;
      try {
        for (const id of [head.id, ...head.priorIds]) {
          if ((await this.client.txStatus(id)).status !== 'unknown') {
            known = true;
            break;
          }
        }
        if (!known) {
          const account = await this.client.account(head.sender);
          known = account.nonce > 0 && head.nonce === account.nonce + 1;
        }
      } catch {
        return false;
      }
      if (!known) {
        throw new SdkError(
          'DATA_DIR_UNBOUND',
          `data directory ${this.cfg.dataDir} records no chain (made before chain binding) and holds ` +
            `${this.queue.size} queued transactions that node ${node} (chain ${describeChain(served)}) ` +
            `does not know, so they may be another chain's; nothing is sent. If they are another chain's, ` +
            `move ${this.cfg.dataDir} away or use a new data directory (--data-dir); if they are this ` +
            `chain's, write ${JSON.stringify(served)} to ${join(this.cfg.dataDir, 'chain.json')}`,
        );
      }
    }
    this.chain = served;
    writeChainRecord(this.cfg.dataDir, served);
    return true;
  }

  /** Binds to the chain on first contact (checkChain); false when no node answered. */
  private async ensureBound(): Promise<boolean> {
    if (this.bound) return true;
    let st: NodeStatus;
    try {
      st = await this.client.status();
    } catch (e) {
      if (e instanceof SdkError && FATAL_DEVICE_CODES.has(e.code)) throw e;
      return false;
    }
    return this.checkChain(st, this.client.currentNode);
  }

  /**
   * One pass: sends pending transactions (oldest first) and confirms them. 'idle' = queue empty,
   * 'progress' = something was delivered, 'waiting' = sent and waiting for commit, 'blocked' = no node
   * answered or a node said "not now".
   */
  async flushOnce(): Promise<FlushOutcome> {
    let entries = this.entries(this.cfg.batchSize ?? 32);
    if (entries.length === 0) return 'idle';
    if (!(await this.ensureBound())) {
      // Nothing is sent before a node showed it is on the directory's chain.
      this.blockedReason = 'no node answered the chain check (/v1/status)';
      return 'blocked';
    }
    // Nonces order one sender's transactions only. After a key rotation the old key's queued batches
    // go (and, with confirm 'committed', commit) before the new key's are sent: otherwise a block could
    // carry the new key's later readings first, and the chain, which orders measurement times per
    // device across rotations, would reject the old key's batches (READING_NOT_INCREASING).
    const cut = entries.findIndex((e) => e.sender !== entries[0]!.sender);
    if (cut > 0) entries = entries.slice(0, cut);
    if (this.hasStale(entries)) {
      // Re-sign only when a node is there to take the result: re-signing on every retry of a long
      // outage would pile up versions (priorIds) for nothing.
      try {
        await this.client.status();
      } catch {
        return 'blocked';
      }
      entries = this.refreshStale(entries);
    }
    const confirmCommit = (this.cfg.confirm ?? 'committed') === 'committed';
    const resendAfter = this.cfg.resendAfterMs ?? 30_000;
    const now = this.now();
    const toSend = entries.filter((e) => {
      const at = this.accepted.get(e.id);
      return at === undefined || now - at >= resendAfter;
    });
    let delivered = 0;
    if (toSend.length > 0) {
      let results: SubmitResult[];
      try {
        results = await this.client.submitBatch(toSend.map((e) => e.bytes));
      } catch (e) {
        if (e instanceof SdkError && (e.code === 'NO_NODE_AVAILABLE' || e.code === 'MALFORMED_RESPONSE')) {
          return 'blocked';
        }
        throw e;
      }
      const node = this.client.currentNode; // the node that answered the batch
      for (let i = 0; i < toSend.length; i++) {
        const e = toSend[i]!;
        const r = results[i]!;
        if (r.ok) {
          this.accepted.set(e.id, this.now());
          this.emit({ type: 'accepted', seq: e.seq, id: e.id, duplicate: r.duplicate });
          if (!confirmCommit) {
            this.deliver(e, undefined, false);
            delivered++;
          }
          continue;
        }
        if (
          !NEVER_DEAD_LETTER.has(r.code) &&
          (TRANSIENT_CODES.has(r.code) || r.status >= 500 || r.status === 429)
        ) {
          // A gap is waited out, not re-signed; but with proofs a node saying so of a nonce the chain
          // has reached does not keep the device waiting on it (ADR 0131).
          if (r.code === 'NONCE_GAP' && this.cfg.requireOutcomeProof === true) await this.nonceGap(e, node);
          return delivered > 0 ? 'progress' : 'blocked';
        }
        if (
          this.cfg.requireOutcomeProof === true &&
          !NEVER_DEAD_LETTER.has(r.code) &&
          !refusalHolds(r.code, e.bytes, this.cfg.chainId)
        ) {
          // repair() would dead-letter the readings on this code, and it is one node's word: unless
          // the device's own check of its bytes bears it out, keep them and try another node.
          this.refusalUnfounded(e, node, r);
          return delivered > 0 ? 'progress' : 'blocked';
        }
        // Everything after a failed transaction has a higher nonce: stop here and repair.
        return (await this.repair(e, r.code, node)) || delivered > 0 ? 'progress' : 'blocked';
      }
    }
    if (!confirmCommit) return delivered > 0 ? 'progress' : 'waiting';
    // Status queries go oldest first and stop at the first entry not committed (nonces commit in order).
    // With a trust anchor the committed ones are collected and proven together afterwards, before a
    // repair, so that one slow proof does not serialise the rest.
    const claimed: { e: Entry; node: string }[] = [];
    let then: 'wait' | 'blocked' | { e: Entry; code: string; node: string } = 'wait';
    for (const e of entries) {
      if (!this.accepted.has(e.id)) break;
      let st: Awaited<ReturnType<NodeClient['txStatus']>>;
      try {
        st = await this.client.txStatus(e.id);
      } catch {
        then = 'blocked';
        break;
      }
      if (st.status === 'committed') {
        if (this.trusted) claimed.push({ e, node: this.client.currentNode });
        else {
          this.deliver(e, st.height, false);
          delivered++;
        }
        continue;
      }
      if (st.status === 'unknown') this.accepted.delete(e.id); // evicted or the node restarted: resend
      if (st.status === 'rejected') {
        // With requireOutcomeProof the claim is proven first (settleRejection); meanwhile the entry
        // stays accepted, as a transaction a node says is in a block needs no resending yet.
        if (this.cfg.requireOutcomeProof !== true) this.accepted.delete(e.id);
        then = { e, code: st.code ?? 'REJECTED', node: this.client.currentNode };
      }
      break;
    }
    let unverified = false;
    if (claimed.length > 0) {
      const checks = await mapLimit(claimed, PROOF_CONCURRENCY, ({ e, node }) =>
        this.checkCommit(e.id, e.bytes, node),
      );
      for (let i = 0; i < claimed.length; i++) {
        const { e, node } = claimed[i]!;
        const c = checks[i]!;
        if (c.kind === 'proven') {
          this.deliver(e, c.height, true);
          delivered++;
        } else if (c.kind === 'awaitingOutcome') {
          if (this.awaitingOutcome(e, e.id, node, c)) unverified = true;
        } else {
          unverified = true;
          this.unverified(e, e.id, node, c);
        }
      }
    }
    if (typeof then === 'object') {
      const verdict: RejectionVerdict =
        this.cfg.requireOutcomeProof === true
          ? await this.settleRejection(then.e, then.node, then.code)
          : { kind: 'final', code: then.code };
      if (verdict.kind === 'final') {
        return (await this.repair(then.e, verdict.code, then.node)) || delivered > 0 ? 'progress' : 'blocked';
      }
      if (verdict.kind === 'delivered') delivered++;
      else if (verdict.kind === 'unverified' || verdict.reported) unverified = true;
      then = 'wait';
    }
    if (delivered > 0) return 'progress';
    if (then === 'blocked') return 'blocked';
    if (unverified) {
      // Back off rather than poll: the proof will not improve in 500 ms, and the event already told why.
      // A more precise reason set during this flush (OUTCOME_UNAVAILABLE, REFUSAL_UNFOUNDED) stands.
      if (this.blockedReason === NO_NODE_ACCEPTED) {
        this.blockedReason = 'a claimed commit or rejection did not verify (commitUnverified)';
      }
      return 'blocked';
    }
    return 'waiting';
  }

  /**
   * Is transaction `id` (whose bytes the device holds) provably committed (and, with
   * requireOutcomeProof, accepted)? checkOutcome, read for a node's `committed`: a proven rejection
   * makes it unverified (RECEIPT_REJECTED), the claimant lied about the outcome.
   */
  private async checkCommit(id: string, bytes: Uint8Array, claimant: string): Promise<CommitCheck> {
    const c = await this.checkOutcome(id, bytes, claimant);
    if (c.kind === 'accepted') return { kind: 'proven', height: c.height };
    if (c.kind === 'rejected') {
      // A certified state says the block rejected it, yet a node said "committed": that node lied.
      const rejected = { node: c.node, code: 'RECEIPT_REJECTED', detail: c.code };
      return { kind: 'unverified', reasons: [...c.reasons, rejected], answered: true, rejected };
    }
    return c;
  }

  /**
   * What do the nodes prove about transaction `id`'s outcome (its bytes are `bytes`)? Asks `claimant`
   * (the node that made a claim about it) first, then every other configured node, one request each,
   * until one serves a proof that verifies against the trusted sets with these bytes: with
   * requireOutcomeProof, the receipt at the transaction's position in a certified state (accepted, or
   * rejected with a code final for the id); without it, the inclusion alone (read as accepted). A single
   * faulty node can neither prove a false outcome nor, while another node is honest and reachable, keep
   * a true one from being proven.
   *
   * A verified inclusion without an outcome is the normal state for a block or so after a commit: the
   * other nodes are asked too only once the wait is longer than OUTCOME_ASK_OTHERS_AFTER_MS, so the
   * common case costs one request per poll and a withholding claimant costs a few seconds.
   */
  private async checkOutcome(id: string, bytes: Uint8Array, claimant: string): Promise<OutcomeCheck> {
    const order = [claimant, ...this.client.nodes.filter((n) => n !== claimant)];
    const reasons: CommitReason[] = [];
    const absent: CommitReason[] = [];
    const now = this.now();
    const wait = this.outcomeWaits.get(id);
    const askOthers = wait !== undefined && now - wait.since >= OUTCOME_ASK_OTHERS_AFTER_MS;
    let answered = false;
    for (const node of order) {
      if (absent.length > 0 && !askOthers) break;
      try {
        const p = await this.client.proof(id, { node });
        answered = true;
        const opts = { chainId: this.cfg.chainId, sets: this.trusted!, txBytes: bytes, expectedTxId: id };
        if (this.cfg.requireOutcomeProof !== true) {
          return { kind: 'accepted', height: verifyCommitProof(p, opts).height, node, reasons };
        }
        const v = verifyCommitOutcome(p, opts);
        if (v.receipt === 'absent') {
          absent.push({ node, code: 'OUTCOME_ABSENT' });
          continue;
        }
        if (v.receipt === 'rejected' && NOT_FINAL_RECEIPTS.has(v.code)) {
          // True, but about a copy whose execution did not consume the nonce: ask on for the one that did.
          reasons.push({ node, code: 'RECEIPT_NOT_FINAL', detail: v.code });
          continue;
        }
        this.outcomeWaits.delete(id);
        const before = [...reasons, ...absent];
        return v.receipt === 'accepted'
          ? { kind: 'accepted', height: v.inclusion.height, node, reasons: before }
          : { kind: 'rejected', code: v.code, node, reasons: before };
      } catch (e) {
        if (!(e instanceof SdkError)) throw e;
        if (e.code === 'REJECTED' || e.code === 'PROOF_INVALID') answered = true;
        reasons.push({ node, code: e.problemCode ?? e.code });
      }
    }
    if (absent.length > 0) {
      if (wait === undefined) this.outcomeWaits.set(id, { since: now, warnedAt: Number.NEGATIVE_INFINITY });
      return { kind: 'awaitingOutcome', reasons: [...reasons, ...absent] };
    }
    return { kind: 'unverified', reasons, answered };
  }

  /**
   * Node `node` said entry `e` was rejected with `claimed` (requireOutcomeProof). Acting on that re-signs
   * the entries after it and dead-letters the readings, so it is proven as an acceptance is
   * (checkOutcome): the device's own bytes in a certified block, and the receipt at their position, in a
   * certified state, rejected with a code final for the id. What a node proves decides, and the proven
   * code is the one acted on; a word alone changes nothing but which node the device prefers.
   */
  private async settleRejection(e: Entry, node: string, claimed: string): Promise<RejectionVerdict> {
    const c = await this.checkOutcome(e.id, e.bytes, node);
    const claim = `was rejected (${claimed})`;
    switch (c.kind) {
      case 'rejected':
        this.accepted.delete(e.id);
        return { kind: 'final', code: c.code };
      case 'awaitingOutcome':
        return { kind: 'waiting', reported: this.awaitingOutcome(e, e.id, node, c, claim) };
      case 'accepted': {
        // Proven accepted: the readings are stored, so they leave the queue, and the claimant lied.
        const reasons = [...c.reasons, { node: c.node, code: 'RECEIPT_ACCEPTED' }];
        const message =
          `node ${node} says ${e.id} ${claim}, but node ${c.node} proved its block accepted it; ` +
          'delivered, and the claimant is no longer preferred';
        this.report(e, e.id, node, reasons, 'RECEIPT_ACCEPTED', message);
        this.client.avoid(node);
        this.deliver(e, c.height, true);
        return { kind: 'delivered' };
      }
      case 'unverified': {
        const message =
          `node ${node} says ${e.id} ${claim}, but no node proved it (${formatReasons(c.reasons)}); ` +
          'kept queued, its status asked elsewhere';
        this.report(e, e.id, node, c.reasons, 'REJECTION_UNPROVEN', message);
        if (c.answered) {
          // As for an unproven commit: the node may have swallowed the transaction, so resend it.
          this.client.avoid(node);
          this.accepted.delete(e.id);
        }
        return { kind: 'unverified' };
      }
    }
  }

  /**
   * Node `node` refused entry `e` at admission with a code repair() would dead-letter on, and the
   * device's own check of the bytes (refusalHolds) does not bear it out (requireOutcomeProof): keep
   * the entry, say so, and send it elsewhere.
   */
  private refusalUnfounded(e: Entry, node: string, r: { code: string; title: string }): void {
    const message =
      `node ${node} refused ${e.id} as ${r.code} (${r.title}), which the device's own check of its ` +
      'bytes does not confirm; kept queued, sent elsewhere';
    this.report(e, e.id, node, [{ node, code: r.code, detail: r.title }], 'REFUSAL_UNFOUNDED', message);
    this.client.avoid(node);
    this.accepted.delete(e.id);
    this.blockedReason = 'a node refused a submission without ground (commitUnverified REFUSAL_UNFOUNDED)';
  }

  /** Emits commitUnverified about version `id` of entry `e` and logs it. */
  private report(
    e: Entry,
    id: string,
    node: string,
    reasons: CommitReason[],
    problemCode: string,
    message: string,
  ): void {
    const error = new SdkError('COMMIT_UNVERIFIED', message, { problemCode });
    this.emit({ type: 'commitUnverified', seq: e.seq, id, node, reasons, error });
    this.warn(error.message);
  }

  /**
   * Entry `e`'s inclusion (as version `id`) is proven but its outcome is not served yet, after `node`
   * said it `claim` (committed, or was rejected): keep it, quietly, unless the wait has lasted
   * OUTCOME_UNAVAILABLE_AFTER_MS since it began or was last reported; then say so (once per period).
   * Returns true when it reported.
   */
  private awaitingOutcome(
    e: Entry,
    id: string,
    node: string,
    c: { reasons: CommitReason[] },
    claim = 'committed',
  ): boolean {
    const w = this.outcomeWaits.get(id);
    const now = this.now();
    if (w === undefined || now - Math.max(w.since, w.warnedAt) < OUTCOME_UNAVAILABLE_AFTER_MS) return false;
    w.warnedAt = now;
    const message =
      `node ${node} says ${id} ${claim} and its inclusion verifies, but no node has served the proof of ` +
      `its outcome for ${Math.round((now - w.since) / 1000)} s (${formatReasons(c.reasons)}); kept queued`;
    this.report(e, id, node, c.reasons, 'OUTCOME_UNAVAILABLE', message);
    this.blockedReason = 'no node served an outcome proof (commitUnverified OUTCOME_UNAVAILABLE)';
    return true;
  }

  /**
   * A claimed commit of entry `e` (as version `id`) did not verify: keep the entry, say why, and stop
   * trusting the claimant first. When some node answered (a bad proof, or "no such committed
   * transaction"), the transaction may never have reached an honest node (a node that swallows
   * submissions and claims commits): forget the acceptance so it is resent, byte for byte, to another
   * node; nodes dedup it if it is there after all.
   */
  private unverified(
    e: Entry,
    id: string,
    node: string,
    c: { reasons: CommitReason[]; answered: boolean; rejected?: CommitReason },
  ): void {
    const first = c.rejected?.code ?? c.reasons[0]?.code ?? 'NO_PROOF';
    const message = c.rejected
      ? `node ${node} says ${id} committed, but node ${c.rejected.node} proved its block rejected it ` +
        `(${c.rejected.detail}); kept queued, its status asked elsewhere`
      : `node ${node} says ${id} committed, but no node proved it (${formatReasons(c.reasons)}); kept queued`;
    this.report(e, id, node, c.reasons, first, message);
    if (c.answered) {
      this.client.avoid(node);
      this.accepted.delete(e.id);
    }
  }

  /** Sends until the queue is empty or `signal` aborts, backing off (full jitter) while nodes are down. */
  async run(signal?: AbortSignal, opts: { pollMs?: number } = {}): Promise<void> {
    const backoff = this.cfg.backoff ?? DEFAULT_BACKOFF;
    // While waiting for a commit, one status query per poll (only the oldest entry: nonces commit in
    // order). 500 ms keeps a ward of devices from loading the validators with status polls.
    const pollMs = opts.pollMs ?? 500;
    const clockEvery = this.cfg.clockCheckIntervalMs ?? 600_000;
    let attempt = 0;
    while (!this.closed && !signal?.aborted) {
      if (this.now() - this.lastClockCheck >= clockEvery) {
        try {
          await this.checkClock();
        } catch (e) {
          if (e instanceof SdkError && FATAL_DEVICE_CODES.has(e.code)) throw e;
          this.lastClockCheck = this.now() - clockEvery + 5_000; // no node: try again soon
        }
      }
      const outcome = await this.flushOnce();
      if (outcome === 'progress') {
        attempt = 0;
        continue;
      }
      let delay: number;
      if (outcome === 'blocked') {
        // Never sooner than the nodes' Retry-After: a ward of devices hammering a rate-limited or
        // overloaded node with full-jitter retries from 0 ms would keep it overloaded.
        delay = Math.max(backoffDelay(attempt++, backoff, this.random), this.client.retryAfterMs);
        this.emit({ type: 'blocked', reason: this.blockedReason, retryInMs: delay });
        this.blockedReason = NO_NODE_ACCEPTED;
      } else {
        attempt = 0;
        delay = outcome === 'idle' ? 60_000 : pollMs;
      }
      await this.sleep(delay, signal);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.queue.close();
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done; // new readings end an idle wait at once
    });
  }

  /**
   * Re-signs entries whose transaction timestamp is older than resignAfterMs with the SAME nonce and a
   * fresh timestamp. Safe without asking any node: the nonce can be consumed once, so at most one
   * version commits; if the old version already did, the new one is refused NONCE_TOO_LOW and repair()
   * finds the old id (kept in priorIds) committed and delivers the entry instead.
   */
  private isStale(e: Entry, now: number): boolean {
    return (
      now - e.timestamp > (this.cfg.resignAfterMs ?? DEFAULT_RESIGN_AFTER_MS) && !this.accepted.has(e.id)
    );
  }

  private hasStale(entries: Entry[]): boolean {
    const now = this.now();
    return entries.some((e) => this.isStale(e, now));
  }

  private refreshStale(entries: Entry[]): Entry[] {
    const now = this.now();
    return entries.map((e) => {
      if (!this.isStale(e, now)) return e;
      const old = decodeTransaction(e.bytes, { chainId: this.cfg.chainId });
      const signed = signBody(this.ctx(e.nonce), decodeBody(old.type, old.body));
      const priorIds = [...e.priorIds, e.id].slice(-MAX_PRIOR_IDS);
      const priorTxs = keepPriorTxs([...e.priorTxs, e.bytes]);
      this.queue.replace(e.seq, encodeEntry(signed.bytes, priorIds, priorTxs));
      this.emit({ type: 'resigned', count: 1, reason: 'STALE_TIMESTAMP', firstNonce: e.nonce });
      return { ...e, bytes: signed.bytes, id: signed.idHex, timestamp: now, priorIds, priorTxs };
    });
  }

  /**
   * Node `node` refused entry `e` with `code`. Returns true if the queue changed (so the caller retries).
   * First asks about every id each pending entry ever had: committed ones are delivered, and if any is
   * still pending somewhere we wait rather than risk signing the same readings twice. Then re-signs the
   * rest from the account's nonce: with requireOutcomeProof the nonce a certified state proves, and only
   * when it supports the node's claim (ADR 0131); without it, the nonce `/v1/accounts` says.
   */
  private async repair(e: Entry, code: string, node: string): Promise<boolean> {
    const proofMode = this.cfg.requireOutcomeProof === true;
    const stale = this.now() - e.timestamp;
    if (code === 'TIMESTAMP_OUT_OF_WINDOW' && stale < 60_000) {
      // A fresh transaction out of window means our clock is wrong, not that it waited too long.
      await this.checkClock().catch(() => undefined);
      // Or the node's word is false: with proofs the next try goes elsewhere, so one node saying it of
      // every fresh transaction cannot pin the device to itself (a wrong device clock makes every node
      // say it, and clockSkew tells).
      if (proofMode) this.client.avoid(node);
      return false;
    }
    let proven: ProvenNonce | undefined;
    if (proofMode && (code === 'NONCE_TOO_LOW' || code === 'ACCOUNT_LIMIT')) {
      // Weighed before any status query goes to the claimant: an unproven claim changes nothing but
      // which node the device prefers.
      proven = await this.nonceClaim(e, code, node);
      if (proven === undefined) return false;
    }
    let changed = false;
    const pending: Entry[] = [];
    for (const p of this.entries()) {
      let committed: { id: string; height?: number; node: string } | undefined;
      for (const id of [p.id, ...p.priorIds]) {
        const st = await this.client.txStatus(id).catch(() => undefined);
        if (!st) return changed; // nodes down: try later
        if (st.status === 'committed') committed = { ...st, node: this.client.currentNode };
        else if (st.status === 'pending') return changed;
      }
      if (committed && this.trusted) {
        // Re-signing readings a node only claims are on chain could duplicate them if the claim is
        // true, and forgetting them loses them if it is false: prove it, or wait.
        const bytes = this.versionBytes(p, committed.id);
        const c: CommitCheck =
          bytes === undefined
            ? {
                kind: 'unverified',
                reasons: [{ node: committed.node, code: 'NO_TX_BYTES' }],
                answered: false,
              }
            : await this.checkCommit(committed.id, bytes, committed.node);
        if (c.kind === 'awaitingOutcome') {
          this.awaitingOutcome(p, committed.id, committed.node, c);
          return changed;
        }
        if (c.kind === 'unverified') {
          this.unverified(p, committed.id, committed.node, c);
          return changed;
        }
        this.deliver(p, c.height, true, committed.id);
        changed = true;
      } else if (committed) {
        this.deliver(p, committed.height, false);
        changed = true;
      } else pending.push(p);
    }
    if (pending.length === 0) return true;
    const head = pending[0]!;
    // The node says this transaction can never be valid (bad signature, malformed, unauthorised...):
    // keep it on disk with the reason, then re-sign the rest so the nonce sequence has no gap.
    const dropHead = head.seq === e.seq && !NEVER_DEAD_LETTER.has(code);
    const rest = dropHead ? pending.slice(1) : pending;
    let base: number;
    if (proofMode) {
      // The rest, and the device's next nonce, follow the proven nonce, never a node's word. A stale
      // proof (a lower bound) numbers them too low at worst: refused NONCE_TOO_LOW, proven, re-signed up.
      if (proven === undefined || e.sender !== this.publicKeyHex) {
        proven = await this.provenNonce(this.publicKeyHex);
      }
      const n = proven.best?.nonce;
      if (code === 'TIMESTAMP_OUT_OF_WINDOW' && rest[0]?.sender === this.publicKeyHex) {
        // Only the timestamps are stale: keep the numbering unless a proof shows it used.
        base = Math.max(n ?? 0, rest[0].nonce - 1);
      } else if (n === undefined) {
        // Nothing to number them by: wait. The head is dead-lettered only together with the re-sign,
        // or the rest would sit behind the gap it leaves.
        this.nonceWait(head, node, code, proven);
        return changed;
      } else base = n;
      if (dropHead) {
        this.deadLetter(head, code);
        changed = true;
      }
    } else {
      if (dropHead) {
        this.deadLetter(head, code);
        changed = true;
      }
      try {
        base = (await this.client.account(this.publicKeyHex)).nonce;
      } catch {
        return changed;
      }
    }
    let nonce = base;
    for (const p of rest) {
      nonce++;
      const old = decodeTransaction(p.bytes, { chainId: this.cfg.chainId });
      const signed: SignedTx = signBody(this.ctx(nonce), decodeBody(old.type, old.body));
      this.queue.replace(
        p.seq,
        encodeEntry(signed.bytes, [...p.priorIds, p.id].slice(-MAX_PRIOR_IDS), [...p.priorTxs, p.bytes]),
      );
      this.accepted.delete(p.id);
      this.nonceWaits.delete(p.seq);
    }
    this.nonces.record(nonce, true);
    this.lastNonce = nonce;
    if (rest.length > 0) {
      this.emit({ type: 'resigned', count: rest.length, reason: code, firstNonce: base + 1 });
      changed = true;
    }
    return changed;
  }

  /**
   * What the configured nodes prove about account `keyHex`'s nonce: each node is asked for the state
   * proof of the account record (one request each, no failover, so a liar cannot hide behind another
   * node), each answer verified against the trusted sets (verifyAccountNonce), and the highest proven
   * nonce kept: every proof is a lower bound of the nonce now, so the freshest honest node's counts and
   * a stale or withheld answer cannot lower it (ADR 0131).
   */
  private async provenNonce(keyHex: string): Promise<ProvenNonce> {
    const publicKey = fromHex(keyHex);
    const key = accountNonceKeyHex(publicKey);
    const answers = await mapLimit(
      this.client.nodes,
      PROOF_CONCURRENCY,
      async (node): Promise<{ node: string; nonce?: number; stateHeight?: number; code?: string }> => {
        try {
          const p = await this.client.stateProof(key, { node });
          const v = verifyAccountNonce(p, { chainId: this.cfg.chainId, sets: this.trusted!, publicKey });
          return { node, nonce: v.nonce, stateHeight: v.stateHeight };
        } catch (e) {
          if (!(e instanceof SdkError)) throw e;
          return { node, code: e.problemCode ?? e.code };
        }
      },
    );
    const out: ProvenNonce = { reasons: [] };
    for (const a of answers) {
      if (a.nonce === undefined) out.reasons.push({ node: a.node, code: a.code! });
      else if (out.best === undefined || a.nonce > out.best.nonce) {
        out.best = { nonce: a.nonce, stateHeight: a.stateHeight!, node: a.node };
      }
    }
    return out;
  }

  /**
   * Node `node` refused entry `e` with NONCE_TOO_LOW or ACCOUNT_LIMIT (requireOutcomeProof, ADR 0131).
   * Acting on it re-signs queued readings under other nonces, so it is weighed against the account's
   * proven nonce P (provenNonce):
   * - NONCE_TOO_LOW holds when P >= e.nonce: the nonce is used (repair re-signs from P, as the design
   *   says for a key used elsewhere, or delivers an earlier version that used it);
   * - ACCOUNT_LIMIT holds when the oldest queued entry of the account is beyond P + 1: the queue is
   *   ahead of the chain, and repair re-syncs (its other reading, too many pending, repair's status
   *   queries find).
   * A claim that holds returns the proof. Otherwise nothing is re-signed: the node is no longer
   * preferred, so the same bytes go elsewhere, and the entry waits (nonceWait) for a certified state
   * that covers the claim, which may be true: the state a header cites lags the newest block.
   */
  private async nonceClaim(e: Entry, code: string, node: string): Promise<ProvenNonce | undefined> {
    const proven = await this.provenNonce(e.sender);
    const p = proven.best?.nonce;
    const head = this.entries(1)[0];
    const first = head !== undefined && head.sender === e.sender ? head.nonce : e.nonce;
    const holds = p !== undefined && (code === 'NONCE_TOO_LOW' ? p >= e.nonce : first > p + 1);
    if (holds) {
      this.nonceWaits.delete(e.seq);
      return proven;
    }
    this.client.avoid(node);
    this.accepted.delete(e.id);
    this.nonceWait(e, node, code, proven);
    if (code === 'NONCE_TOO_LOW') this.nonceWaits.get(e.seq)!.claimants.add(node);
    return undefined;
  }

  /**
   * Node `node` answered entry `e` NONCE_GAP (requireOutcomeProof): nonces never go down, so a proven
   * nonce P >= e.nonce - 1 refutes it, and the device says so at once (NONCE_CLAIM_FALSE). Either way
   * the node is no longer preferred: a gap is waited out, and waiting on one node's word alone would
   * let it hold the device forever.
   */
  private async nonceGap(e: Entry, node: string): Promise<void> {
    this.client.avoid(node);
    const proven = await this.provenNonce(e.sender);
    const p = proven.best;
    if (p === undefined || p.nonce < e.nonce - 1) return;
    const message =
      `node ${node} says nonce ${e.nonce} of ${e.id} is beyond the next one (NONCE_GAP), but node ${p.node} ` +
      `proved the account's nonce is at least ${p.nonce} (state after block ${p.stateHeight}); ` +
      'the node is no longer preferred';
    this.nonceReport(e, node, 'NONCE_GAP', 'NONCE_CLAIM_FALSE', proven, message);
    this.blockedReason = 'a node refuted by the proven account nonce (nonceUnproven NONCE_CLAIM_FALSE)';
  }

  /**
   * A nonce claim `claim` by `node` about entry `e` that the proofs do not support (or, `proven.best`
   * undefined, that no node's proof let the device check): keep the entry as it is, quietly while a
   * certified state may still catch up, and say so once NONCE_UNPROVEN_AFTER_MS have passed since the
   * wait began or was last reported (once per such period).
   */
  private nonceWait(e: Entry, node: string, claim: string, proven: ProvenNonce): void {
    const now = this.now();
    let w = this.nonceWaits.get(e.seq);
    if (w === undefined || w.id !== e.id) {
      w = {
        id: e.id,
        nonce: e.nonce,
        claimants: new Set(),
        since: now,
        warnedAt: Number.NEGATIVE_INFINITY,
      };
      this.nonceWaits.set(e.seq, w);
    }
    const p = proven.best;
    this.blockedReason =
      p === undefined
        ? `${claim} from ${node} not acted on: no node proved the account's nonce (nonceUnproven NO_NONCE_PROOF)`
        : `${claim} from ${node} not acted on: the proven account nonce is ${p.nonce} (nonceUnproven NONCE_NOT_PROVEN)`;
    if (now - Math.max(w.since, w.warnedAt) < NONCE_UNPROVEN_AFTER_MS) return;
    w.warnedAt = now;
    const secs = Math.round((now - w.since) / 1000);
    const message =
      p === undefined
        ? `node ${node} answered nonce ${e.nonce} of ${e.id} ${claim}, and for ${secs} s no node served a ` +
          `proof of the account's nonce that verifies (${formatReasons(proven.reasons)}); not re-signed, kept queued`
        : `node ${node} answered nonce ${e.nonce} of ${e.id} ${claim}, but for ${secs} s the highest account ` +
          `nonce a node proved is ${p.nonce} (node ${p.node}, state after block ${p.stateHeight}); not ` +
          're-signed, kept queued, sent elsewhere';
    this.nonceReport(
      e,
      node,
      claim,
      p === undefined ? 'NO_NONCE_PROOF' : 'NONCE_NOT_PROVEN',
      proven,
      message,
    );
  }

  /** Emits nonceUnproven about entry `e` and logs it. */
  private nonceReport(
    e: { seq: number; id: string; nonce: number },
    node: string,
    claim: string,
    problemCode: string,
    proven: ProvenNonce | undefined,
    message: string,
  ): void {
    const error = new SdkError('NONCE_UNPROVEN', message, { problemCode });
    this.emit({
      type: 'nonceUnproven',
      seq: e.seq,
      id: e.id,
      nonce: e.nonce,
      node,
      claim,
      ...(proven?.best === undefined ? {} : { proven: proven.best }),
      reasons: proven?.reasons ?? [],
      error,
    });
    this.warn(error.message);
  }

  /** An entry that left the queue needs no outcome or nonce wait for any of its versions. */
  private forgetWaits(e: Entry): void {
    this.outcomeWaits.delete(e.id);
    for (const id of e.priorIds) this.outcomeWaits.delete(id);
    this.nonceWaits.delete(e.seq);
  }

  /** The bytes of version `id` of entry `e`, if the entry still holds them. */
  private versionBytes(e: Entry, id: string): Uint8Array | undefined {
    if (id === e.id) return e.bytes;
    return e.priorTxs.find((b) => toHex(transactionId(decodeTransaction(b))) === id);
  }

  /** Entry `e` leaves the queue: version `provenId` is known committed (proven when `verified`). */
  private deliver(e: Entry, height: number | undefined, verified: boolean, provenId = e.id): void {
    const w = this.nonceWaits.get(e.seq);
    if (verified && w !== undefined && w.id === provenId) {
      // This very transaction committed, so its nonce was not used when nodes said NONCE_TOO_LOW of it:
      // a node that had used it would have answered DUPLICATE_TX, and no other can commit on it.
      for (const node of w.claimants) {
        const message =
          `node ${node} said nonce ${w.nonce} of ${w.id} was used (NONCE_TOO_LOW), but that transaction ` +
          'is proven committed under it: the claim was false';
        this.nonceReport(
          { seq: e.seq, id: w.id, nonce: w.nonce },
          node,
          'NONCE_TOO_LOW',
          'NONCE_CLAIM_FALSE',
          undefined,
          message,
        );
      }
    }
    this.queue.ack(e.seq);
    this.accepted.delete(e.id);
    this.forgetWaits(e);
    const ev: DeviceEvent = { type: 'delivered', seq: e.seq, id: e.id, verified };
    if (height !== undefined) ev.height = height;
    this.emit(ev);
  }

  private deadLetter(e: Entry, code: string): void {
    const path = join(this.cfg.dataDir, 'deadletter.jsonl');
    const line = JSON.stringify({ seq: e.seq, id: e.id, code, tx: toHex(e.bytes), at: this.now() }) + '\n';
    appendFileSync(path, line, { mode: 0o600 });
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.queue.ack(e.seq);
    this.forgetWaits(e);
    this.emit({ type: 'deadLetter', seq: e.seq, id: e.id, code });
    this.warn(`transaction ${e.id} rejected as ${code}; kept in ${path}`);
  }

  private entries(max?: number): Entry[] {
    return this.queue.peek(max).map(({ seq, payload }) => {
      const v = decodeCanonical(payload) as CborValue[];
      const bytes = v[1] as Uint8Array;
      const tx = decodeTransaction(bytes);
      return {
        seq,
        bytes,
        id: toHex(transactionId(tx)),
        nonce: tx.nonce,
        timestamp: tx.timestamp,
        sender: toHex(tx.sender),
        priorIds: (v[2] as Uint8Array[]).map(toHex),
        priorTxs: (v[3] as Uint8Array[] | undefined) ?? [],
      };
    });
  }

  private ctx(nonce: number) {
    return { chainId: this.cfg.chainId, signer: this.cfg.signer, nonce, timestamp: this.now() };
  }

  private emit(e: DeviceEvent): void {
    this.cfg.onEvent?.(e);
  }

  private warn(msg: string): void {
    (this.cfg.log ?? console.warn)(`[vigil-device ${this.publicKeyHex.slice(0, 8)}] ${msg}`);
  }
}

function formatReasons(reasons: readonly CommitReason[]): string {
  return reasons.map((r) => `${r.node}: ${r.code}${r.detail === undefined ? '' : ` ${r.detail}`}`).join('; ');
}

/** `f` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
