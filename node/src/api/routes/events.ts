// Server-Sent Events (WHATWG HTML §9.2): `event: block` for every applied block, to anyone (the load
// generator and dashboards rely on it: data {"height","txIds":[hex]}); and, for a signed subscription,
// `event: alert` for each alert raised on a patient the caller may see (the state machine's access rule
// for category `alerts`, decided when the alert is sent), optionally filtered by ?patient=.
// A signed subscriber that reconnects with `Last-Event-ID: <height>` (the id of the last event it saw: a
// block's height, or the opening event's head + 1) is first sent the alerts raised from that block on,
// read from the chain's alert index (ADR 0130; ADR 0126 held them in memory, lost at a restart): a
// clinician must not miss a critical alert because the connection dropped or the node restarted.
import { toHex } from '@vigil/consensus/wire';
import { ALERTS_CATEGORY } from '@vigil/consensus/wire/bodies/index.ts';
import type { FastifyInstance } from 'fastify';
import { decideAccess, type RaisedAlert, readRaisedAlerts, replayStart } from '../../state-machine/index.ts';
import type { AppliedBlock } from '../../validator/validator.ts';
import { type ApiContext, caller, key32, recordRead } from '../context.ts';
import { ApiError } from '../problem.ts';
import { signedHeaders } from '../schemas.ts';
import { type AuthenticatedCaller, isSigned } from '../signed-request.ts';

export const MAX_SUBSCRIBERS = 256;
/**
 * Most output a subscriber may have left unread in this process (beyond what the kernel holds) when the
 * next event is due: past it the subscriber is dropped (it cannot keep up). The event about to be
 * written is not counted: one event goes to every subscriber, so counting it let a single event larger
 * than the bound drop them all, idle fast ones too, each time such a block committed (a block event is
 * ~67 bytes a transaction: 134 KB at the default 2,000 per block, past 1 MiB at ~15,600, and operators
 * may raise the limit). Nor is output written in the same turn of the event loop: block sync announces a
 * certified range's blocks back to back, and a socket sends nothing until the loop turns, so a burst
 * several MB long is unread by every subscriber at once, however fast it reads. So a subscriber holds at
 * most this plus one turn's output (a block, or a synced range's blocks, with their alerts).
 */
export const MAX_BUFFERED_BYTES = 1 << 20;
const HEARTBEAT_MS = 15_000;
/**
 * Most alerts sent again to one reconnecting subscriber, the newest kept (ADR 0130). Each is decided
 * against the access rule and recorded as read, like a live one, so a request's work is bounded: 4,096
 * cover a long outage on a large ward (alerts are rare next to blocks: one open alert per cause and
 * patient). The older ones of the outage are reported as a `gap`.
 */
export const MAX_REPLAYED_ALERTS = 4096;
/** Alerts read from the index at a time while replaying (the output waits for the client in between). */
const REPLAY_PAGE = 256;
/**
 * How long a replay waits for the client to read what it was sent before the next page. A client that
 * reads nothing for this long does not keep up and is dropped: else the live blocks queued behind its
 * replay would pile up in the node for as long as it held the connection.
 */
export const REPLAY_DRAIN_MS = HEARTBEAT_MS;

/** An alert as sent, encoded once (a block's alerts go to every signed subscriber). */
interface SentAlert {
  patient: Uint8Array;
  patientHex: string;
  event: string;
}

/** The `event: alert` record of an alert: the same fields live and replayed. */
function sentAlert(a: Omit<RaisedAlert, 'position'>): SentAlert {
  const patientHex = toHex(a.patient);
  const data = {
    height: a.height,
    txId: toHex(a.txId),
    patient: patientHex,
    seq: a.seq,
    cause: a.cause,
    kind: a.kind,
    value: a.value,
    news2Total: a.news2Total,
    band: a.band,
    missing: a.missing,
    oldestAgeMs: a.oldestAgeMs,
  };
  return { patient: a.patient, patientHex, event: `event: alert\ndata: ${JSON.stringify(data)}\n\n` };
}

interface Subscriber {
  /**
   * Whether the subscriber has kept up: false, and dropped, when it left more than MAX_BUFFERED_BYTES
   * unread of what it was sent in earlier turns of the event loop. Asked before each block's output and
   * each keep-alive, never for the output itself, so no event's size counts against the subscriber it is
   * written to.
   */
  keepingUp: () => boolean;
  write: (chunk: string | Buffer) => void;
  end: () => void;
  /**
   * Resolves once the subscriber's unread output is at most half the bound, or it is gone: dropped when
   * it read nothing for `replayDrainMs`.
   */
  drained: () => Promise<void>;
  caller: AuthenticatedCaller | undefined;
  patient: Uint8Array | undefined;
  /**
   * Output still being prepared (alerts wait for an access decision, a state read). Later output
   * queues behind it, so that a block's alerts precede the next block's event: a client resuming
   * from the last block event it saw then has every earlier block's alerts.
   */
  busy: Promise<void> | undefined;
}

export function registerEventRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  maxSubscribers = MAX_SUBSCRIBERS,
  maxReplayedAlerts = MAX_REPLAYED_ALERTS,
  replayDrainMs = REPLAY_DRAIN_MS,
): void {
  const subscribers = new Set<Subscriber>();
  // Turns of the event loop, counted only while output is being written: what a subscriber was sent in
  // the current turn could not have been read yet.
  let turn = 0;
  let turnEnding = false;
  const currentTurn = () => {
    if (!turnEnding) {
      turnEnding = true;
      setImmediate(() => {
        turn++;
        turnEnding = false;
      });
    }
    return turn;
  };

  const onBlock = (b: AppliedBlock) => {
    if (subscribers.size === 0) return;
    const alerts: SentAlert[] = b.result.events
      .filter((e) => e.event.kind === 'alertRaised')
      .map((e) => {
        const d = e.event.data as [Uint8Array, number, string, number | null, number | null, ...unknown[]];
        return sentAlert({
          height: b.height,
          txId: e.txId,
          patient: d[0],
          seq: d[1],
          cause: d[2],
          kind: d[3],
          value: d[4],
          news2Total: d[5] as number | null,
          band: d[6] as number | null,
          missing: d[7] as string[],
          oldestAgeMs: d[8] as number,
        });
      });
    // Encoded once and shared: a socket queues and writes a reference to a Buffer, where a string is
    // copied into native memory for every socket it is written to (one copy a subscriber of the
    // largest event there is).
    const block = Buffer.from(
      `event: block\nid: ${b.height}\ndata: ${JSON.stringify({
        height: b.height,
        hash: toHex(b.blockHash),
        txIds: b.result.receipts.filter((r) => r.txId !== null).map((r) => toHex(r.txId!)),
      })}\n\n`,
    );
    for (const s of subscribers) {
      inTurn(s, () => {
        if (!s.keepingUp()) return;
        s.write(block);
        // The block's alerts follow its event at once, behind it in the same backlog: they belong to
        // this block's output and are not measured again.
        if (s.caller && alerts.length > 0) return sendAlerts(s, alerts);
      });
    }
  };

  /**
   * Runs `job` for `s` now, or after the output it is still preparing. An alert that cannot be recorded
   * as read (AUDIT_BACKLOG), or one whose access decision failed, is not sent: the stream ends instead,
   * so the client reconnects and is sent it again (Last-Event-ID) rather than missing it without a
   * sign. Never an unhandled rejection.
   */
  const inTurn = (s: Subscriber, job: () => Promise<void> | undefined) => {
    const pending = s.busy ? s.busy.then(job) : job();
    if (!pending) return;
    const tracked: Promise<void> = pending
      .catch(() => s.end())
      .then(() => {
        if (s.busy === tracked) s.busy = undefined;
      });
    s.busy = tracked;
  };

  const sendAlerts = async (s: Subscriber, alerts: readonly SentAlert[]) => {
    const who = s.caller!;
    const only = s.patient && toHex(s.patient);
    for (const { patient, patientHex, event } of alerts) {
      if (only && only !== patientHex) continue;
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
      s.write(event);
    }
  };

  /**
   * The alerts raised from block `resumeFrom` to `head` (the head when the subscriber connected: later
   * blocks come live, behind this), from the alert index, oldest first and a page at a time, each
   * decided and recorded as sendAlerts does for a live one. First `event: gap` when some cannot be
   * sent: those of blocks before the index starts (a database upgraded to it, ADR 0130), or beyond the
   * newest `maxReplayedAlerts`. `heldFrom` is the first block whose alerts are all sent.
   */
  const replay = async (s: Subscriber, resumeFrom: number, head: number) => {
    // Block 0 (genesis) raises nothing.
    const from = Math.max(resumeFrom, 1);
    const indexedFrom = ctx.validator.store.indexedFrom ?? head + 1;
    const start = await replayStart(ctx.view, Math.max(from, indexedFrom), head, maxReplayedAlerts);
    if (from < start) {
      const reason = from < indexedFrom ? 'notIndexed' : 'limit';
      s.write(`event: gap\ndata: ${JSON.stringify({ from: resumeFrom, heldFrom: start, reason })}\n\n`);
    }
    let cursor: Uint8Array | null = null;
    do {
      const page = await readRaisedAlerts(ctx.view, {
        fromHeight: start,
        toHeight: head,
        limit: REPLAY_PAGE,
        cursor,
      });
      await sendAlerts(s, page.items.map(sentAlert));
      // A replay is up to a few MB: sent as the client reads it, not queued in the node at once.
      await s.drained();
      cursor = page.next;
    } while (cursor !== null);
  };

  ctx.validator.events.on('block', onBlock);
  const heartbeat = setInterval(() => {
    for (const s of subscribers) if (s.keepingUp()) s.write(': keep-alive\n\n');
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
        // Signing is optional: unsigned subscribers receive block events only.
        security: [{}, { vigilSignature: [] }],
        querystring: {
          type: 'object',
          properties: { patient: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          additionalProperties: false,
        },
        // Documented only, never refused: an unsigned subscription sends none of the x-vigil-* headers,
        // and a Last-Event-ID that is not a height is ignored (below), as EventSource clients may send
        // whatever id they last saw from another server.
        headers: {
          type: 'object',
          properties: {
            ...signedHeaders.properties,
            'last-event-id': {
              type: 'string',
              description:
                'On reconnecting: the id of the last event received (a block height, or the open event\'s id). A signed subscriber is first sent the alerts raised from that block on, from the node\'s alert index, after `event: gap` when some cannot be sent (before the index starts, or beyond the newest 4,096; docs/api.md, "Events"). Anything but a decimal height is ignored.',
            },
          },
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
      // The id of the last event the client saw (WHATWG: sent by EventSource on reconnecting; the
      // dashboard sets it): the first block whose alerts it may lack. Not covered by the signature: it
      // only chooses which of the caller's own alerts, each decided and recorded like a live one, are
      // sent again. Anything but a height is ignored.
      const lastId = req.headers['last-event-id'];
      const resumeFrom =
        who && typeof lastId === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(lastId)
          ? Number(lastId)
          : undefined;
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
      let writtenTurn = -1;
      let writtenInTurn = 0;
      const s: Subscriber = {
        caller: who,
        patient,
        busy: undefined,
        keepingUp: () => {
          if (res.destroyed) return false;
          const fresh = writtenTurn === turn ? writtenInTurn : 0;
          if (res.writableLength - fresh <= MAX_BUFFERED_BYTES) return true;
          // Dropped for backpressure: destroy, not end. end() queues behind the unread output and
          // waits for a client that does not read, so the socket and everything buffered for it stayed
          // for as long as the client held the connection, while its subscriber slot was already free:
          // the bound bounded nothing.
          subscribers.delete(s);
          res.destroy();
          return false;
        },
        write: (chunk) => {
          // Output queued behind an alert decision may come due after the stream ended.
          if (res.destroyed || res.writableEnded) return;
          const t = currentTurn();
          if (t !== writtenTurn) {
            writtenTurn = t;
            writtenInTurn = 0;
          }
          writtenInTurn += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
          res.write(chunk);
        },
        end: () => {
          subscribers.delete(s);
          if (!res.writableEnded) res.end();
        },
        drained: () =>
          res.destroyed || res.writableLength <= MAX_BUFFERED_BYTES / 2
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                const done = () => {
                  clearTimeout(timer);
                  res.off('drain', done);
                  res.off('close', done);
                  resolve();
                };
                const timer = setTimeout(() => {
                  subscribers.delete(s);
                  res.destroy();
                  done();
                }, replayDrainMs);
                timer.unref();
                res.on('drain', done);
                res.on('close', done);
              }),
      };
      subscribers.add(s);
      const head = ctx.validator.store.requireHead().height;
      // The opening event's id is the first block this stream covers: a client that reconnects before
      // any block event arrived names it, and is sent every alert raised since it was first connected.
      res.write(
        `: vigil events, height ${head}\n\nevent: open\nid: ${head + 1}\ndata: {"height":${head}}\n\n`,
      );
      if (resumeFrom !== undefined) {
        // From the block of the last event seen, inclusive: the stream may have dropped between that
        // block's event and its alerts. A client drops an alert it already has by (patient, seq).
        // Up to the head now: blocks applied from here on are sent live, behind these, and not twice.
        inTurn(s, () => replay(s, resumeFrom, head));
      }
      req.raw.on('close', () => subscribers.delete(s));
    },
  );
}
