// Transactions: submission (canonical CBOR, an RFC 8742 CBOR sequence, or the JSON form, one or a
// batch), status with receipt, inclusion proofs, and account nonces.
import { encodeStateProof, receiptsRootKey } from '@vigil/consensus/proof';
import { cborItemEnd } from '@vigil/sensor-client/sdk/cbor-seq.ts';
import {
  blockHash as blockHashOf,
  bytesEqual,
  decodeTransaction,
  encodeBlockHeader,
  encodeCommitCertificate,
  fromHex,
  merkleLeafHash,
  toHex,
  transactionId,
  transactionSigningBytes,
} from '@vigil/consensus/wire';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeNonce, nonceKey } from '../../exec/accounts.ts';
import { MempoolRejected } from '../../mempool/mempool.ts';
import { AccessDenied, DenyCode } from '../../state-machine/index.ts';
import type { AppliedBlock } from '../../validator/validator.ts';
import { type CertifiedStateProof, proveAgainstNewestHeader } from '../certified-state-proof.ts';
import { type ApiContext, caller, recordRead } from '../context.ts';
import { authorizePatientRead, PATIENT_ONLY, transactionPatientData } from '../patient-data-access.ts';
import { SignedHeader } from '../signed-request-client.ts';
import { ApiError, problem, sendProblem, statusForTxCode } from '../problem.ts';
import { anyObject, hex32, jsonTransactionSchema } from '../schemas.ts';
import { encodeJsonTransaction, TxJsonError, transactionEnvelopeJson, unsignedFromJson } from '../tx-json.ts';

/** Most transactions in one batch (CBOR sequence or JSON array). */
export const MAX_BATCH = 1_000;
const DEFAULT_WAIT_MS = 30_000;
const SUBMIT_TYPES = ['application/cbor', 'application/cbor-seq', 'application/json'];
const MAX_WAIT_MS = 60_000;

type Outcome = { id: string; status: 'committed' | 'rejected'; height: number; code?: string };

/**
 * Receipts that say nothing final about their transaction id: a copy with a bad signature (the id does
 * not cover the signature, so the genuine transaction may still commit) and a nonce ahead of the
 * sender's (it stays pending and commits once its predecessor has). Neither consumes the nonce or
 * enters the transaction index (storage.md), so the status route does not call them rejected either.
 */
const NOT_FINAL_FOR_ID: ReadonlySet<string> = new Set(['BAD_SIGNATURE', 'NONCE_GAP']);

/** Requests held open by ?wait=commit, resolved when a block carrying their transaction is applied. */
export class CommitWaiters {
  readonly #waiting = new Map<string, ((o: Outcome) => void)[]>();
  readonly onBlock = (b: AppliedBlock) => {
    if (this.#waiting.size === 0) return;
    for (const r of b.result.receipts) {
      if (r.txId === null) continue;
      if (r.status === 'rejected' && NOT_FINAL_FOR_ID.has(r.code)) continue;
      const id = toHex(r.txId);
      const waiters = this.#waiting.get(id);
      if (!waiters) continue;
      this.#waiting.delete(id);
      const outcome: Outcome =
        r.status === 'accepted'
          ? { id, status: 'committed', height: b.height }
          : { id, status: 'rejected', height: b.height, code: r.code };
      for (const w of waiters) w(outcome);
    }
  };

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

/** The id of bytes that decode as a transaction (for DUPLICATE_TX answers), else undefined. */
function idOf(bytes: Uint8Array): string | undefined {
  try {
    return toHex(transactionId(decodeTransaction(bytes)));
  } catch {
    return undefined;
  }
}

type ItemResult = { id: string } | { id?: string; error: { code: string; title: string; status: number } };

/**
 * The receipt of transaction `index` of block `height`, its path to the block's receipts root, and the
 * state proof of that root (ADR 0123), for a chain that keeps them; what verifyTransactionOutcome
 * checks. The state proof is left out while no certified header cites a state that holds the root yet.
 */
async function outcomeOf(validator: ApiContext['validator'], height: number, index: number, txCount: number) {
  const r = await validator.store.proveReceipt(height, index, txCount);
  if (r === undefined) return {};
  const base = {
    receipt: toHex(r.receipt),
    receiptProof: r.proof.map(toHex),
    receiptsRoot: toHex(r.root),
  };
  if (validator.store.requireHead().height === 0) return base;
  let proven: CertifiedStateProof;
  try {
    proven = await proveAgainstNewestHeader(validator, receiptsRootKey(height));
  } catch (e) {
    // A node catching up: the inclusion proof stands on its own; the outcome comes on a later ask.
    if (e instanceof ApiError && e.code === 'STATE_NOT_RETAINED') return base;
    throw e;
  }
  if (proven.value === undefined) return base; // the cited state is still older than the block
  return {
    ...base,
    outcome: {
      stateProof: toHex(encodeStateProof(proven.proof)),
      height: proven.height,
      header: toHex(encodeBlockHeader(proven.block.header)),
      certificate: toHex(encodeCommitCertificate(proven.certificate)),
      stateHeight: proven.stateHeight,
      stateAsOf: proven.asOf,
    },
  };
}

export function registerTransactionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { validator, metrics } = ctx;
  const waiters = new CommitWaiters();
  validator.events.on('block', waiters.onBlock);
  app.addHook('onClose', async () => {
    validator.events.off('block', waiters.onBlock);
  });

  const admit = async (bytes: Uint8Array): Promise<Uint8Array> => {
    try {
      const id = await validator.submit(bytes);
      metrics.admitted(toHex(id), Date.now());
      return id;
    } catch (e) {
      if (e instanceof MempoolRejected) metrics.txRejected.inc({ code: e.code });
      throw e;
    }
  };

  const admitEach = (items: (Uint8Array | TxJsonError)[]): Promise<ItemResult[]> =>
    Promise.all(
      items.map(async (bytes): Promise<ItemResult> => {
        if (bytes instanceof TxJsonError) {
          metrics.txRejected.inc({ code: bytes.code });
          return { error: { code: bytes.code, title: bytes.message, status: 400 } };
        }
        try {
          return { id: toHex(await admit(bytes)) };
        } catch (e) {
          if (!(e instanceof MempoolRejected)) throw e;
          const r: ItemResult = {
            error: { code: e.code, title: e.message, status: statusForTxCode(e.code) },
          };
          const id = e.code === 'DUPLICATE_TX' ? idOf(bytes) : undefined;
          if (id) r.id = id;
          return r;
        }
      }),
    );

  const statusOf = async (id: Uint8Array) => {
    const rec = await validator.store.txs.get(id);
    if (rec) {
      const block = await validator.store.blocks.block(rec.height);
      const base = {
        id: toHex(id),
        height: rec.height,
        position: rec.position,
        blockHash: block ? toHex(blockHashOf(block.header)) : undefined,
        tx: block ? transactionEnvelopeJson(decodeTransaction(block.txs[rec.position]!)) : undefined,
      };
      return rec.receipt.status === 'accepted'
        ? { ...base, status: 'committed' as const, receipt: { status: 'accepted' } }
        : {
            ...base,
            status: 'rejected' as const,
            code: rec.receipt.code,
            receipt: { status: 'rejected', code: rec.receipt.code },
          };
    }
    if (validator.mempool.has(id)) return { id: toHex(id), status: 'pending' as const };
    return undefined;
  };

  app.post<{ Querystring: { wait?: string; timeoutMs?: number } }>(
    '/v1/transactions',
    {
      schema: {
        summary: 'Submit one signed transaction or a batch',
        description:
          'application/cbor: one canonical transaction; application/cbor-seq: an RFC 8742 sequence of up to 1000; application/json: the JSON form, or an array of up to 1000. One transaction answers {id} (202) or a problem; a batch answers {results: [{id} | {error: {code, title, status}}]}. ?wait=commit holds a single submission until its block is applied or timeoutMs passes.',
        querystring: {
          type: 'object',
          properties: {
            wait: { type: 'string', enum: ['commit'] },
            timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_WAIT_MS },
          },
          additionalProperties: false,
        },
        body: {
          content: {
            'application/json': {
              schema: {
                anyOf: [jsonTransactionSchema, { type: 'array', items: { type: 'object' } }],
              },
            },
          },
        },
        response: {
          200: anyObject('Committed or rejected in a block (wait=commit)'),
          202: anyObject('Admitted to the mempool: {id}, or batch results'),
          '4xx': { $ref: 'Problem#' },
          '5xx': { $ref: 'Problem#' },
        },
      },
    },
    async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const body = req.body;
      if (!SUBMIT_TYPES.includes(type)) {
        throw new ApiError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'Unsupported content type',
          `send one of ${SUBMIT_TYPES.join(', ')}`,
        );
      }
      let single: Uint8Array;
      if (type === 'application/json') {
        if (Array.isArray(body)) {
          if (body.length > MAX_BATCH) throw new ApiError(400, 'BATCH_TOO_LARGE', `at most ${MAX_BATCH}`);
          const items = body.map((j) => {
            try {
              return encodeJsonTransaction(j);
            } catch (e) {
              if (e instanceof TxJsonError) return e;
              throw e;
            }
          });
          return reply.code(202).send({ results: await admitEach(items) });
        }
        single = encodeJsonTransaction(body);
      } else {
        if (!Buffer.isBuffer(body) || body.length === 0) {
          throw new ApiError(400, 'MALFORMED', 'Empty body', 'send canonical CBOR bytes or the JSON form');
        }
        if (type === 'application/cbor-seq') {
          let items: Uint8Array[];
          try {
            items = splitSequence(body);
          } catch (e) {
            throw new ApiError(400, 'MALFORMED', 'Not a CBOR sequence', (e as Error).message);
          }
          return reply.code(202).send({ results: await admitEach(items) });
        }
        single = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      }
      let id: Uint8Array;
      try {
        id = await admit(single);
      } catch (e) {
        if (e instanceof MempoolRejected) return rejected(reply, e, single);
        throw e;
      }
      const idHex = toHex(id);
      if (req.query.wait !== 'commit') return reply.code(202).send({ id: idHex });
      const known = await statusOf(id);
      if (known && known.status !== 'pending') return reply.code(200).send(known);
      const outcome = await waiters.wait(idHex, req.query.timeoutMs ?? DEFAULT_WAIT_MS);
      if (outcome) return reply.code(200).send(outcome);
      return reply.code(202).send({ id: idHex, status: 'pending' });
    },
  );

  app.post(
    '/v1/transactions/signing-bytes',
    {
      schema: {
        summary:
          'The canonical signing bytes and id of an unsigned JSON transaction (for clients without a CBOR encoder)',
        description:
          'Trusting these bytes means trusting this node: a client that can encode canonical CBOR should compute them itself (docs/protocol.md).',
        body: {
          ...jsonTransactionSchema,
          required: jsonTransactionSchema.required.filter((f) => f !== 'signature'),
        },
        response: {
          200: {
            type: 'object',
            properties: { id: { type: 'string' }, signingBytes: { type: 'string' } },
          },
          '4xx': { $ref: 'Problem#' },
        },
      },
    },
    async (req) => {
      const unsigned = unsignedFromJson(req.body);
      return { id: toHex(transactionId(unsigned)), signingBytes: toHex(transactionSigningBytes(unsigned)) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/transactions/:id',
    {
      schema: {
        summary: 'Status of a transaction: pending, committed or rejected, with its block and receipt',
        params: { type: 'object', properties: { id: hex32 }, required: ['id'] },
        response: { 200: anyObject('Transaction status'), '4xx': { $ref: 'Problem#' } },
      },
    },
    async (req) => {
      const s = await statusOf(fromHex(req.params.id));
      if (!s) throw new ApiError(404, 'TX_NOT_FOUND', 'Unknown transaction', req.params.id);
      return s;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/transactions/:id/proof',
    {
      schema: {
        summary: 'RFC 6962 inclusion proof of a committed transaction with its block header and certificate',
        params: { type: 'object', properties: { id: hex32 }, required: ['id'] },
        response: {
          200: {
            type: 'object',
            required: ['leaf', 'index', 'proof', 'header', 'certificate'],
            properties: {
              tx: {
                type: 'string',
                description:
                  'the transaction bytes, hex: only when they name no patient, or to a signed request of their signer or of a reader the access rule allows (audited)',
              },
              leaf: { type: 'string', description: 'RFC 9162 leaf hash of the transaction bytes, hex' },
              index: { type: 'integer' },
              height: { type: 'integer' },
              proof: { type: 'array', items: { type: 'string' } },
              header: { type: 'string', description: 'canonical block header, hex' },
              certificate: { type: 'string', description: 'canonical commit certificate, hex' },
              receipt: {
                type: 'string',
                description:
                  'the canonical receipt bytes, hex (ADR 0123; only on a chain whose state keeps receipts roots)',
              },
              receiptProof: {
                type: 'array',
                items: { type: 'string' },
                description: 'RFC 9162 audit path of the receipt to receiptsRoot (tree size header.txCount)',
              },
              receiptsRoot: { type: 'string', description: "the block's receipts root, hex" },
              outcome: {
                type: 'object',
                description:
                  "state proof of the block's receipts root under the newest certified header whose state holds it; absent until a certified header cites a state at or after the block (a few blocks)",
                required: ['stateProof', 'height', 'header', 'certificate', 'stateHeight'],
                properties: {
                  stateProof: { type: 'string', description: 'encoded sparse-Merkle proof, hex' },
                  height: { type: 'integer' },
                  header: { type: 'string' },
                  certificate: { type: 'string' },
                  stateHeight: { type: 'integer' },
                  stateAsOf: { type: 'integer' },
                },
              },
            },
          },
          '4xx': { $ref: 'Problem#' },
        },
      },
    },
    async (req) => {
      const p = await validator.store.proveTransaction(fromHex(req.params.id));
      if (!p) throw new ApiError(404, 'TX_NOT_FOUND', 'No committed transaction with this id', req.params.id);
      // The bytes carry the body: patient data for most transaction types (docs/api.md, "Patient data
      // on the chain routes"). The proof without them reveals nothing of it, and whoever holds the bytes
      // (a device checking its own submission) verifies with those.
      let served = false;
      const tx = decodeTransaction(p.txBytes);
      const data = transactionPatientData(tx);
      if (data === undefined) served = true;
      else if (req.headers[SignedHeader.signature] !== undefined) {
        const who = caller(ctx, req);
        if (data === 'undecodable') {
          // A rejected transaction whose body never decoded: nobody can say whose data it is.
          if (!bytesEqual(who.key, tx.sender)) {
            throw new AccessDenied(DenyCode.PATIENT_ONLY, 'only its signer reads an undecodable transaction');
          }
        } else {
          const basis = await authorizePatientRead(ctx.view, who, data, ctx.now());
          if (basis !== 'owner' && data.categories !== PATIENT_ONLY) {
            recordRead(ctx, who, data.patient, [...data.categories], basis);
          }
        }
        served = true;
      }
      return {
        ...(served ? { tx: toHex(p.txBytes) } : {}),
        ...(await outcomeOf(validator, p.height, p.index, p.header.txCount)),
        // The RFC 9162 leaf hash: with the path, it proves a transaction sits at `index` of the
        // certified block without showing it (verifyTransactionLeafProof); its 64-byte signature makes
        // it unguessable from the body.
        leaf: toHex(merkleLeafHash(p.txBytes)),
        index: p.index,
        height: p.height,
        proof: p.proof.map(toHex),
        header: toHex(encodeBlockHeader(p.header)),
        certificate: toHex(encodeCommitCertificate(p.certificate)),
      };
    },
  );

  app.get<{ Params: { key: string } }>(
    '/v1/accounts/:key',
    {
      schema: {
        summary: "An account's committed and next pending nonce",
        params: { type: 'object', properties: { key: hex32 }, required: ['key'] },
        response: {
          200: {
            type: 'object',
            properties: { nonce: { type: 'integer' }, pendingNonce: { type: 'integer' } },
          },
          '4xx': { $ref: 'Problem#' },
        },
      },
    },
    async (req) => {
      const key = fromHex(req.params.key);
      const nonce = decodeNonce(await validator.store.state.get(nonceKey(key)));
      return { nonce, pendingNonce: validator.mempool.pendingNonce(key) ?? nonce };
    },
  );
}

function rejected(reply: FastifyReply, e: MempoolRejected, bytes: Uint8Array) {
  const p = problem(statusForTxCode(e.code), e.code, 'Transaction rejected', e.message) as ReturnType<
    typeof problem
  > & { id?: string };
  if (e.code === 'DUPLICATE_TX') {
    const id = idOf(bytes);
    if (id) p.id = id;
  }
  return sendProblem(reply, p);
}
