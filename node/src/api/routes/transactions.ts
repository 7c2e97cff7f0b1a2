// Transactions: submission (canonical CBOR, one or an RFC 8742 sequence), status, and account nonces.
import { cborItemEnd } from '@vigil/sensor-client/sdk/cbor-seq.ts';
import type { FastifyInstance } from 'fastify';
import { decodeNonce, nonceKey } from '../../exec/accounts.ts';
import { MempoolRejected } from '../../mempool/mempool.ts';
import type { AppliedBlock, Validator } from '../../validator/validator.ts';
import { problem, sendProblem, statusForTxCode } from '../problem.ts';

const HEX32 = /^[0-9a-f]{64}$/;
/** Most transactions in one application/cbor-seq batch. */
export const MAX_BATCH = 1_000;
const DEFAULT_WAIT_MS = 30_000;
const MAX_WAIT_MS = 60_000;

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

type Outcome = { id: string; status: 'committed' | 'rejected'; height: number; code?: string };

/** Requests held open by ?wait=commit, resolved when a block carrying their transaction is applied. */
class CommitWaiters {
  readonly #waiting = new Map<string, ((o: Outcome) => void)[]>();

  constructor(validator: Validator) {
    validator.events.on('block', (b: AppliedBlock) => {
      if (this.#waiting.size === 0) return;
      for (const r of b.result.receipts) {
        if (r.txId === null) continue;
        const id = hex(r.txId);
        const waiters = this.#waiting.get(id);
        if (!waiters) continue;
        this.#waiting.delete(id);
        const outcome: Outcome =
          r.status === 'accepted'
            ? { id, status: 'committed', height: b.height }
            : { id, status: 'rejected', height: b.height, code: r.code };
        for (const w of waiters) w(outcome);
      }
    });
  }

  wait(id: string, ms: number): Promise<Outcome | undefined> {
    return new Promise((resolve) => {
      const list = this.#waiting.get(id) ?? [];
      const timer = setTimeout(() => {
        const l = this.#waiting.get(id);
        if (l) {
          const rest = l.filter((w) => w !== done);
          if (rest.length > 0) this.#waiting.set(id, rest);
          else this.#waiting.delete(id);
        }
        resolve(undefined);
      }, ms);
      const done = (o: Outcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      list.push(done);
      this.#waiting.set(id, list);
    });
  }
}

function splitSequence(body: Buffer): Uint8Array[] {
  const items: Uint8Array[] = [];
  let off = 0;
  while (off < body.length) {
    if (items.length >= MAX_BATCH) throw new RangeError(`at most ${MAX_BATCH} transactions per batch`);
    const end = cborItemEnd(body, off);
    items.push(new Uint8Array(body.buffer, body.byteOffset + off, end - off));
    off = end;
  }
  return items;
}

export function registerTransactionRoutes(app: FastifyInstance, validator: Validator): void {
  const waiters = new CommitWaiters(validator);

  const statusOf = async (id: Uint8Array) => {
    const rec = await validator.store.txs.get(id);
    if (rec) {
      return rec.receipt.status === 'accepted'
        ? { id: hex(id), status: 'committed' as const, height: rec.height, position: rec.position }
        : {
            id: hex(id),
            status: 'rejected' as const,
            height: rec.height,
            position: rec.position,
            code: rec.receipt.code,
          };
    }
    if (validator.mempool.has(id)) return { id: hex(id), status: 'pending' as const };
    return undefined;
  };

  app.post<{ Querystring: { wait?: string; timeoutMs?: number } }>(
    '/v1/transactions',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            wait: { type: 'string', enum: ['commit'] },
            timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_WAIT_MS },
          },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const body = req.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        return sendProblem(reply, problem(400, 'MALFORMED', 'Empty body', 'send canonical CBOR bytes'));
      }
      if (type === 'application/cbor-seq') {
        let items: Uint8Array[];
        try {
          items = splitSequence(body);
        } catch (e) {
          return sendProblem(reply, problem(400, 'MALFORMED', 'Not a CBOR sequence', (e as Error).message));
        }
        const results = await Promise.all(
          items.map(async (bytes) => {
            try {
              return { id: hex(await validator.submit(bytes)) };
            } catch (e) {
              if (e instanceof MempoolRejected) return { error: { code: e.code, title: e.message } };
              throw e;
            }
          }),
        );
        return reply.code(202).send({ results });
      }
      let id: Uint8Array;
      try {
        id = await validator.submit(body);
      } catch (e) {
        if (e instanceof MempoolRejected) {
          return sendProblem(
            reply,
            problem(statusForTxCode(e.code), e.code, 'Transaction rejected', e.message),
          );
        }
        throw e;
      }
      const idHex = hex(id);
      if (req.query.wait !== 'commit') return reply.code(202).send({ id: idHex });
      const known = await statusOf(id);
      if (known && known.status !== 'pending') return reply.code(200).send(known);
      const outcome = await waiters.wait(idHex, req.query.timeoutMs ?? DEFAULT_WAIT_MS);
      if (outcome) return reply.code(200).send(outcome);
      return reply.code(202).send({ id: idHex, status: 'pending' });
    },
  );

  app.get<{ Params: { id: string } }>('/v1/transactions/:id', async (req, reply) => {
    if (!HEX32.test(req.params.id)) {
      return sendProblem(reply, problem(400, 'BAD_TX_ID', 'A transaction id is 64 lowercase hex characters'));
    }
    const s = await statusOf(new Uint8Array(Buffer.from(req.params.id, 'hex')));
    if (!s) return sendProblem(reply, problem(404, 'TX_NOT_FOUND', 'Unknown transaction', req.params.id));
    return s;
  });

  app.get<{ Params: { key: string } }>('/v1/accounts/:key', async (req, reply) => {
    if (!HEX32.test(req.params.key)) {
      return sendProblem(
        reply,
        problem(400, 'BAD_PUBLIC_KEY', 'A public key is 64 lowercase hex characters'),
      );
    }
    const key = new Uint8Array(Buffer.from(req.params.key, 'hex'));
    const nonce = decodeNonce(await validator.store.state.get(nonceKey(key)));
    return { nonce, pendingNonce: validator.mempool.pendingNonce(key) ?? nonce };
  });
}
