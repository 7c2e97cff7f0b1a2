// A fake Vigil node for the SDK's tests: the HTTP API contract of docs/sensor-client.md on a shared
// in-memory ledger. It behaves like the node where the SDK's guarantees depend on it: signatures are
// verified, transactions are deduplicated by id (DUPLICATE_TX), and nonces must be exactly the next one
// per sender. Transactions commit at once (or when the test calls `commitPending`), one block each.
// Servers can be stopped and restarted on the same port while the ledger persists, to play an outage.
// With `ledger.certifyWith(validators)` every block gets a real header and a quorum commit certificate
// (the wire module's own encoders), and `/v1/transactions/:id/proof` serves RFC 6962 proofs as the node
// does (without the bytes: they name a patient). A FakeNode built with a `lie` plays a Byzantine node
// on the same ledger: it swallows submissions and claims them committed, with no proof or a forged one.

import type { AddressInfo } from 'node:net';
import {
  blockHash,
  type CommitVote,
  commitVoteSignBytes,
  decodeTransaction,
  encodeBlockHeader,
  encodeCommitCertificate,
  makeBlock,
  merkleInclusionProof,
  merkleLeafHash,
  referenceVerifier,
  type Signer,
  type Transaction,
  transactionId,
  verifyTransactionSignature,
  ZERO_HASH,
} from '@vigil/consensus/wire';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { splitCborSequence } from '../sdk/cbor-seq.ts';
import { toHex } from '../util/hex.ts';

export interface LedgerTx {
  id: string;
  tx: Transaction;
  bytes: Uint8Array;
  height: number;
}

/** The JSON of `GET /v1/transactions/:id/proof` (docs/api.md), without `tx` as for a patient's data. */
export interface ProofJson {
  leaf: string;
  index: number;
  height: number;
  proof: string[];
  header: string;
  certificate: string;
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
  const block = makeBlock(
    {
      version: 1,
      chainId,
      height,
      view: 0,
      prevHash: ZERO_HASH,
      stateRoot: ZERO_HASH,
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
    leaf: toHex(merkleLeafHash(txs[index]!)),
    index,
    height,
    proof: merkleInclusionProof(block.txs, index).map(toHex),
    header: toHex(encodeBlockHeader(block.header)),
    certificate: toHex(encodeCommitCertificate({ height, view: 0, blockHash: hash, votes })),
  };
}

/** Indices 0..q-1 with q = 2f+1 of n = 3f+1 (more generally n - floor((n-1)/3)). */
function quorumOf(n: number): number[] {
  return Array.from({ length: n - Math.floor((n - 1) / 3) }, (_, i) => i);
}

export class FakeLedger {
  readonly chainId: string;
  /** Committed transactions in commit order. */
  readonly committed: LedgerTx[] = [];
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
  /** Height -> the proof JSON of its (one-transaction) block. */
  private readonly proofs = new Map<number, ProofJson>();

  constructor(chainId: string) {
    this.chainId = chainId;
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

  /** The inclusion proof of a committed transaction, or undefined (not committed, or no certifiers). */
  proof(id: string): ProofJson | undefined {
    const e = this.byId.get(id);
    return e && 'height' in e ? this.proofs.get(e.height) : undefined;
  }

  /** Commits every pending transaction, one block each, in admission order. */
  commitPending(): void {
    for (const p of this.pendingTxs.splice(0)) {
      const lt: LedgerTx = { ...p, height: this.committed.length + 1 };
      if (this.certifiers) {
        this.proofs.set(lt.height, certifiedProof(this.chainId, lt.height, [p.bytes], 0, this.certifiers));
      }
      this.committed.push(lt);
      this.byId.set(p.id, lt);
      this.lastNonce.set(toHex(p.tx.sender), p.tx.nonce);
      for (const l of this.blockListeners) l(lt.height, [lt.id]);
    }
  }

  /** Forgets the mempool (a node restart): pending transactions become unknown. */
  dropPending(): void {
    for (const p of this.pendingTxs.splice(0)) this.byId.delete(p.id);
  }

  status(id: string): { id: string; status: string; height?: number } {
    const e = this.byId.get(id);
    if (!e) return { id, status: 'unknown' };
    if ('height' in e) return { id, status: 'committed', height: e.height };
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

  /** Lets a test consume a nonce behind the device's back (another holder of the key). */
  forceNonce(sender: string, nonce: number): void {
    this.lastNonce.set(sender, nonce);
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
 */
export type Lie =
  | { kind: 'noProof' }
  | { kind: 'strangers'; signers: readonly Signer[] }
  | { kind: 'minority'; signers: readonly Signer[]; colluders: readonly number[] }
  | { kind: 'otherTx' };

export class FakeNode {
  readonly ledger: FakeLedger;
  private app: FastifyInstance | undefined;
  private port = 0;
  private readonly lie: Lie | undefined;
  /** A liar's swallowed transactions: id -> [bytes, the height it claims]. */
  private readonly swallowed = new Map<string, { bytes: Uint8Array; height: number }>();
  /** Proof requests answered, by id (to count them). */
  readonly proofRequests: string[] = [];

  constructor(ledger: FakeLedger, port = 0, opts: { lie?: Lie } = {}) {
    this.ledger = ledger;
    this.port = port;
    this.lie = opts.lie;
  }

  /** As the ledger, or, for a liar, swallow it (a valid-looking 202) and claim it committed later. */
  private admit(bytes: Uint8Array): { id: string } | { code: string; title: string } {
    if (!this.lie) return this.ledger.admit(bytes);
    try {
      const id = toHex(transactionId(decodeTransaction(bytes, { chainId: this.ledger.chainId })));
      if (!this.swallowed.has(id)) {
        this.swallowed.set(id, { bytes: bytes.slice(), height: this.ledger.committed.length + 1 });
      }
      return { id };
    } catch (e) {
      return { code: 'MALFORMED', title: (e as Error).message };
    }
  }

  private proofFor(id: string): ProofJson | undefined {
    const s = this.swallowed.get(id);
    if (!s || !this.lie) return this.ledger.proof(id);
    const chain = this.ledger.chainId;
    switch (this.lie.kind) {
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
      return s ? { id, status: 'committed', height: s.height } : L.status(id);
    });
    app.get('/v1/transactions/:id/proof', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      this.proofRequests.push(id);
      const p = this.proofFor(id);
      return p ?? problem(reply, 404, 'TX_NOT_FOUND', 'No committed transaction with this id');
    });
    app.get('/v1/accounts/:key', async (req) => L.account((req.params as { key: string }).key));
    app.get('/v1/status', async () => ({
      chainId: L.chainId,
      height: L.committed.length,
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
