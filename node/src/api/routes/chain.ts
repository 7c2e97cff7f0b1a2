// The chain itself: node status, blocks with their commit certificates, and state proofs.
import { encodeStateProof } from '@vigil/consensus/proof';
import {
  type Block,
  blockHash,
  type CommitCertificate,
  encodeBlockHeader,
  encodeCommitCertificate,
  fromHex,
  quorumSize,
  toHex,
  transactionId,
  decodeTransaction,
} from '@vigil/consensus/wire';
import type { FastifyInstance } from 'fastify';
import { proveAgainstNewestHeader } from '../certified-state-proof.ts';
import { type ApiContext, caller, recordRead } from '../context.ts';
import { authorizePatientRead, PATIENT_ONLY, stateKeyPatientData } from '../patient-data-access.ts';
import { API_VERSION } from '../openapi.ts';
import { ApiError } from '../problem.ts';
import { anyObject } from '../schemas.ts';

export const MAX_BLOCKS_PAGE = 100;
/**
 * Most hex characters of a state key accepted by /v1/proofs/:key: 256 bytes (state keys are short:
 * sm/<tag>/<parts>, a text part at most 255 bytes). The router's maxParamLength is this (server.ts).
 */
export const MAX_KEY_HEX = 512;

function headerJson(b: Block) {
  const h = b.header;
  return {
    version: h.version,
    chainId: h.chainId,
    height: h.height,
    view: h.view,
    prevHash: toHex(h.prevHash),
    txRoot: toHex(h.txRoot),
    txCount: h.txCount,
    stateRoot: toHex(h.stateRoot),
    stateHeight: h.stateHeight,
    proposer: h.proposer,
    timestamp: h.timestamp,
  };
}

function txIdOrNull(bytes: Uint8Array): string | null {
  try {
    return toHex(transactionId(decodeTransaction(bytes)));
  } catch {
    return null;
  }
}

function certificateJson(c: CommitCertificate) {
  return {
    height: c.height,
    view: c.view,
    blockHash: toHex(c.blockHash),
    votes: c.votes.map((v) => ({ validator: v.validator, signature: toHex(v.signature) })),
  };
}

export function registerChainRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { validator } = ctx;

  const blockAt = async (height: number, full: boolean) => {
    const block = await validator.store.blocks.block(height);
    const cert = await validator.store.blocks.certificate(height);
    if (!block || !cert) return undefined;
    const receipts = full ? await validator.store.txs.receiptsOf(height) : [];
    return {
      height,
      hash: toHex(blockHash(block.header)),
      header: headerJson(block),
      headerHex: toHex(encodeBlockHeader(block.header)),
      certificate: certificateJson(cert),
      certificateHex: toHex(encodeCommitCertificate(cert)),
      // The ordered set whose indices the certificate's votes use: that of the block's epoch (ADR 0015).
      validators: validator.replica.validatorsAt(height).map(toHex),
      txIds: block.txs.map(txIdOrNull),
      ...(full
        ? {
            receipts: receipts.map((r) =>
              r.status === 'accepted' ? { status: r.status } : { status: r.status, code: r.code },
            ),
          }
        : {}),
    };
  };

  app.get(
    '/v1/status',
    {
      schema: {
        summary: 'Chain id, height, view, validators and their liveness, peers, mempool, version',
        response: { 200: anyObject('Node status') },
      },
    },
    async () => {
      const s = validator.status();
      const connected = new Set(
        validator.network
          .peers()
          .filter((p) => p.connected)
          .map((p) => p.key),
      );
      // The set in force now (the current epoch, ADR 0015); genesis is epoch 0.
      const current = validator.replica.epoch.validators;
      // By key, not by the replica's index: a validator recovering from lost records (ADR 0121) has
      // index -1 while it is still in the set.
      const { rosterId, roster } = validator.replica;
      const selfKey = rosterId >= 0 && roster[rosterId] !== undefined ? toHex(roster[rosterId]) : undefined;
      const n = current.length;
      return {
        ...s,
        version: API_VERSION,
        validators: current.map((k, i) => {
          const key = toHex(k);
          return {
            index: i,
            publicKey: key,
            self: key === selfKey,
            live: key === selfKey || connected.has(key),
          };
        }),
        quorum: quorumSize(n),
      };
    },
  );

  app.get<{ Params: { height: number } }>(
    '/v1/blocks/:height',
    {
      schema: {
        summary: 'One committed block: header, commit certificate, transaction ids and receipts',
        params: {
          type: 'object',
          properties: { height: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
          required: ['height'],
        },
        response: { 200: anyObject('Block'), '4xx': { $ref: 'Problem#' } },
      },
    },
    async (req) => {
      const b = await blockAt(req.params.height, true);
      if (!b)
        throw new ApiError(
          404,
          'BLOCK_NOT_FOUND',
          'No committed block at this height',
          String(req.params.height),
        );
      return b;
    },
  );

  app.get<{ Querystring: { from?: number; limit?: number } }>(
    '/v1/blocks',
    {
      schema: {
        summary: 'Committed blocks from a height, ascending (default: the newest page)',
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
            limit: { type: 'integer', minimum: 1, maximum: MAX_BLOCKS_PAGE },
          },
          additionalProperties: false,
        },
        response: { 200: anyObject('{blocks, next}'), '4xx': { $ref: 'Problem#' } },
      },
    },
    async (req) => {
      const head = validator.store.requireHead().height;
      const limit = req.query.limit ?? 20;
      const from = req.query.from ?? Math.max(1, head - limit + 1);
      const blocks = [];
      for (let h = from; h <= head && blocks.length < limit; h++) {
        const b = await blockAt(h, false);
        if (b) blocks.push(b);
      }
      const last = from + blocks.length - 1;
      return { head, blocks, next: last < head ? last + 1 : null };
    },
  );

  app.get<{ Params: { key: string } }>(
    '/v1/proofs/:key',
    {
      schema: {
        summary:
          'Sparse-Merkle proof of a state key (value or absence) with the certified header it verifies against',
        description:
          'The proof is of the state after block `stateAsOf`, which is `stateHeight` unless the chain updates its state root every k > 1 blocks (then `stateHeight` - (`stateHeight` mod k), ADR 0117), checked against `header.stateRoot` of the newest committed block, whose certificate is included (the header carries the state root of an earlier height: pipelining, docs/protocol.md). On a node that just caught up in certified ranges the newest block may cite a state it never materialised; the proof then comes from the newest block that cites one (`height` says which), or 503 STATE_NOT_RETAINED (ADR 0115).',
        params: {
          type: 'object',
          properties: { key: { type: 'string', pattern: '^(?:[0-9a-f]{2})+$', maxLength: MAX_KEY_HEX } },
          required: ['key'],
        },
        response: { 200: anyObject('State proof'), '4xx': { $ref: 'Problem#' } },
      },
    },
    async (req) => {
      if (validator.store.requireHead().height === 0)
        throw new ApiError(404, 'NO_CERTIFIED_STATE', 'No committed block yet to verify against');
      const key = fromHex(req.params.key);
      // A patient's record, device, grants, vitals or alerts: a proof carries the value (and its hash,
      // which for a small value is as good as the value), so it is served like the data routes serve
      // the data: to a signed request the access rule allows, recorded in the audit trail (docs/api.md,
      // "Patient data on the chain routes"). Decided on the newest state, like those routes.
      const data = await stateKeyPatientData(ctx.view, key);
      let recordServed = () => {};
      if (data !== undefined) {
        const who = caller(ctx, req);
        const basis = await authorizePatientRead(ctx.view, who, data, ctx.now());
        if (basis !== 'owner' && data.categories !== PATIENT_ONLY) {
          recordServed = () => recordRead(ctx, who, data.patient, [...data.categories], basis);
        }
      }
      const p = await proveAgainstNewestHeader(validator, key);
      recordServed();
      return {
        key: req.params.key,
        value: p.value === undefined ? null : toHex(p.value),
        stateHeight: p.stateHeight,
        stateAsOf: p.asOf,
        root: toHex(p.root),
        proof: toHex(encodeStateProof(p.proof)),
        height: p.height,
        header: toHex(encodeBlockHeader(p.block.header)),
        certificate: toHex(encodeCommitCertificate(p.certificate)),
        validators: validator.replica.validatorsAt(p.height).map(toHex),
      };
    },
  );
}
