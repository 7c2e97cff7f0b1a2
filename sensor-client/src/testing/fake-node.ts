// A fake Vigil node for the SDK's tests: the HTTP API contract of docs/sensor-client.md on a shared
// in-memory ledger. It behaves like the node where the SDK's guarantees depend on it: signatures are
// verified, transactions are deduplicated by id (DUPLICATE_TX), and nonces must be exactly the next one
// per sender. Transactions commit at once (or when the test calls `commitPending`), one block each.
// Servers can be stopped and restarted on the same port while the ledger persists, to play an outage.

import type { AddressInfo } from 'node:net';
import {
  decodeTransaction,
  referenceVerifier,
  type Transaction,
  transactionId,
  verifyTransactionSignature,
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

  /** Commits every pending transaction, one block each, in admission order. */
  commitPending(): void {
    for (const p of this.pendingTxs.splice(0)) {
      const lt: LedgerTx = { ...p, height: this.committed.length + 1 };
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

export class FakeNode {
  readonly ledger: FakeLedger;
  private app: FastifyInstance | undefined;
  private port = 0;

  constructor(ledger: FakeLedger, port = 0) {
    this.ledger = ledger;
    this.port = port;
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
          const r = L.admit(b);
          // As the node (node/src/api/routes/transactions.ts): each refusal carries its own HTTP status.
          return 'id' in r
            ? { id: r.id }
            : { error: { code: r.code, title: r.title, status: STATUS_OF[r.code] ?? 400 } };
        });
        return reply.code(202).send({ results });
      }
      const r = L.admit(body);
      if ('id' in r) return reply.code(202).send({ id: r.id });
      return problem(reply, STATUS_OF[r.code] ?? 400, r.code, r.title);
    });
    app.get('/v1/transactions/:id', async (req) => L.status((req.params as { id: string }).id));
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
