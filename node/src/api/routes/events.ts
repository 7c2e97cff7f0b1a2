// Server-Sent Events (WHATWG HTML §9.2): `event: block` for every applied block, to anyone (the load
// generator and dashboards rely on it: data {"height","txIds":[hex]}); and, for a signed subscription,
// `event: alert` for each alert raised on a patient the caller may see (the state machine's access rule
// for category `alerts`, decided when the alert is raised), optionally filtered by ?patient=.
import { toHex } from '@vigil/consensus/wire';
import { ALERTS_CATEGORY } from '@vigil/consensus/wire/bodies/index.ts';
import type { FastifyInstance } from 'fastify';
import { decideAccess } from '../../state-machine/index.ts';
import type { AppliedBlock } from '../../validator/validator.ts';
import { type ApiContext, caller, key32, recordRead } from '../context.ts';
import { ApiError } from '../problem.ts';
import { type AuthenticatedCaller, isSigned } from '../signed-request.ts';

export const MAX_SUBSCRIBERS = 256;
/**
 * Most output a subscriber may leave unread in this process (beyond what the kernel holds): a write
 * that would take it past this drops the subscriber instead (it cannot keep up), so no write starts
 * that by itself exceeds the bound. A block event is ~67 bytes a transaction (134 KB at the default
 * 2,000 per block).
 */
export const MAX_BUFFERED_BYTES = 1 << 20;
const HEARTBEAT_MS = 15_000;

interface Subscriber {
  /** `bytes`: the chunk's UTF-8 length, when the caller has it (one block event goes to every subscriber). */
  write: (chunk: string, bytes?: number) => void;
  end: () => void;
  caller: AuthenticatedCaller | undefined;
  patient: Uint8Array | undefined;
}

export function registerEventRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  maxSubscribers = MAX_SUBSCRIBERS,
): void {
  const subscribers = new Set<Subscriber>();

  const onBlock = (b: AppliedBlock) => {
    if (subscribers.size === 0) return;
    const block = `event: block\nid: ${b.height}\ndata: ${JSON.stringify({
      height: b.height,
      hash: toHex(b.blockHash),
      txIds: b.result.receipts.filter((r) => r.txId !== null).map((r) => toHex(r.txId!)),
    })}\n\n`;
    const bytes = Buffer.byteLength(block);
    const alerts = b.result.events.filter((e) => e.event.kind === 'alertRaised');
    for (const s of subscribers) {
      s.write(block, bytes);
      if (s.caller && alerts.length > 0) void sendAlerts(s, alerts, b.height);
    }
  };

  const sendAlerts = async (s: Subscriber, alerts: AppliedBlock['result']['events'], height: number) => {
    const who = s.caller!;
    for (const e of alerts) {
      const d = e.event.data as unknown[];
      const patient = d[0] as Uint8Array;
      if (s.patient && toHex(s.patient) !== toHex(patient)) continue;
      const decision = await decideAccess(
        ctx.view.state,
        who.key,
        patient,
        ALERTS_CATEGORY,
        who.purpose,
        ctx.now(),
      );
      if (!decision.allowed) continue;
      const { allowed: _, ...basis } = decision;
      recordRead(ctx, who, patient, [ALERTS_CATEGORY], basis);
      s.write(
        `event: alert\ndata: ${JSON.stringify({
          height,
          txId: toHex(e.txId),
          patient: toHex(patient),
          seq: d[1],
          cause: d[2],
          kind: d[3],
          value: d[4],
          news2Total: d[5],
          band: d[6],
          missing: d[7],
          oldestAgeMs: d[8],
        })}\n\n`,
      );
    }
  };

  ctx.validator.events.on('block', onBlock);
  const heartbeat = setInterval(() => {
    for (const s of subscribers) s.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    ctx.validator.events.off('block', onBlock);
    for (const s of [...subscribers]) s.end();
  });

  app.get<{ Querystring: { patient?: string } }>(
    '/v1/events',
    {
      schema: {
        summary: 'Server-Sent Events: blocks for anyone; alerts the caller may see (signed subscription)',
        querystring: {
          type: 'object',
          properties: { patient: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          additionalProperties: false,
        },
        response: {
          200: { description: 'text/event-stream', type: 'string' },
          '4xx': { $ref: 'Problem#' },
          '5xx': { $ref: 'Problem#' },
        },
      },
    },
    async (req, reply) => {
      const who = isSigned(req.headers) ? caller(ctx, req) : undefined;
      // Research reads are de-identified (docs/state-machine.md, "Query layer"); a live stream cannot
      // be: each alert arrives right after the public event of the block that raised it.
      if (who?.purpose === 2) {
        throw new ApiError(
          403,
          'NOT_DEIDENTIFIED',
          'Research reads are de-identified',
          'a live alert stream names its block by arriving with it; read alerts through /v1/patients/{patient}/alerts',
        );
      }
      const patient = req.query.patient ? key32(req.query.patient, 'patient') : undefined;
      if (patient && !who)
        throw new ApiError(401, 'UNAUTHENTICATED', 'A patient filter needs a signed subscription');
      if (subscribers.size >= maxSubscribers) {
        throw new ApiError(503, 'UNAVAILABLE', 'Too many event subscribers', `at most ${maxSubscribers}`);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const s: Subscriber = {
        caller: who,
        patient,
        write: (chunk, bytes = Buffer.byteLength(chunk)) => {
          if (res.destroyed) return;
          if (res.writableLength + bytes > MAX_BUFFERED_BYTES) {
            // Dropped for backpressure: destroy, not end. end() queues behind the unread output and
            // waits for a client that does not read, so the socket and everything buffered for it stayed
            // for as long as the client held the connection, while its subscriber slot was already free:
            // the bound bounded nothing.
            subscribers.delete(s);
            res.destroy();
            return;
          }
          res.write(chunk);
        },
        end: () => {
          subscribers.delete(s);
          if (!res.writableEnded) res.end();
        },
      };
      subscribers.add(s);
      res.write(`: vigil events, height ${ctx.validator.store.requireHead().height}\n\n`);
      req.raw.on('close', () => subscribers.delete(s));
    },
  );
}
