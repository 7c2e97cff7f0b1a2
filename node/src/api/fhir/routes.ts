// The read-only FHIR R4 facade (docs/fhir.md): searches over the same query layer, access rule,
// request signatures and on-chain read audit as the JSON API. Errors are OperationOutcome resources
// carrying the same stable codes as the JSON API's problems.
import { toHex } from '@vigil/consensus/wire';
import { type ReadingKind, readingCategory } from '@vigil/consensus/vitals/index.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AccessDenied,
  type AccessBasis,
  MAX_PAGE,
  QueryError,
  type Reading,
  readAuditTrail,
  readConsents,
  readReadings,
} from '../../state-machine/index.ts';
import { Keys } from '../../state-machine/keys.ts';
import { type ApiContext, caller, recordRead } from '../context.ts';
import { API_VERSION } from '../openapi.ts';
import { ApiError } from '../problem.ts';
import { grantJson } from '../routes/patients.ts';
import { signedHeaders } from '../schemas.ts';
import { AuthError } from '../signed-request.ts';
import {
  auditEvent,
  bundle,
  capabilityStatement,
  consent,
  FHIR_JSON,
  FHIR_KINDS,
  isResearchObservationId,
  type Json,
  kindsForCode,
  observation,
  operationOutcome,
  parseObservationId,
  provenance,
  type SourceKind,
} from './resources.ts';
import { dateRange, decodeHeightPage, decodePage, encodePage, patientRef } from './search-params.ts';

const MAX_COUNT = 1000;
const security = [{ vigilSignature: [] }];
const bundleResponse = {
  200: { description: 'searchset Bundle', type: 'object', additionalProperties: true },
};

function outcomeFor(e: unknown): { status: number; body: Json } {
  if (e instanceof ApiError)
    return {
      status: e.status,
      body: operationOutcome(e.code, e.status === 404 ? 'not-found' : 'invalid', e.detail ?? e.title),
    };
  if (e instanceof AuthError)
    return {
      status: e.status,
      body: operationOutcome(e.code, e.status === 503 ? 'transient' : 'login', e.message),
    };
  if (e instanceof AccessDenied)
    return { status: 403, body: operationOutcome(e.code, 'forbidden', e.message) };
  if (e instanceof QueryError) return { status: 400, body: operationOutcome(e.code, 'invalid', e.message) };
  const err = e as { validation?: unknown; statusCode?: number; message?: string };
  if (err.validation)
    return { status: 400, body: operationOutcome('INVALID_REQUEST', 'invalid', err.message ?? 'invalid') };
  if (err.statusCode === 429)
    return { status: 429, body: operationOutcome('RATE_LIMITED', 'throttled', 'too many requests') };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return {
      status: err.statusCode,
      body: operationOutcome('BAD_REQUEST', 'invalid', err.message ?? 'bad request'),
    };
  return { status: 500, body: operationOutcome('INTERNAL', 'exception', 'internal error') };
}

function send(reply: FastifyReply, body: Json, status = 200) {
  return reply.code(status).header('content-type', `${FHIR_JSON}; charset=utf-8`).send(body);
}

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/fhir`;
}

export async function registerFhirRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  await app.register(
    async (fhir) => {
      fhir.setErrorHandler((e, _req, reply) => {
        const { status, body } = outcomeFor(e);
        return send(reply, body, status);
      });
      fhir.setNotFoundHandler((req, reply) =>
        send(reply, operationOutcome('NOT_FOUND', 'not-supported', `no FHIR route ${req.url}`), 404),
      );
      registerFhir(fhir, ctx);
    },
    { prefix: '/fhir' },
  );
}

function registerFhir(app: FastifyInstance, ctx: ApiContext): void {
  /** Device or clinician, by whether the key is a device record (cached per request). */
  const sourceKinds = () => {
    const cache = new Map<string, Promise<SourceKind>>();
    return (source: Uint8Array): Promise<SourceKind> => {
      const id = toHex(source);
      let p = cache.get(id);
      if (!p) {
        p = ctx.view.state
          .get(Keys.device(source))
          .then((v) => (v === undefined ? 'Practitioner' : 'Device'));
        cache.set(id, p);
      }
      return p;
    };
  };

  app.get(
    '/metadata',
    { schema: { summary: 'FHIR CapabilityStatement', response: bundleResponse } },
    async (req, reply) => send(reply, capabilityStatement(baseUrl(req), API_VERSION)),
  );

  app.get<{
    Querystring: { patient?: string; code?: string; date?: string[]; _count?: number; _page?: string };
  }>(
    '/Observation',
    {
      schema: {
        summary: 'FHIR search: vital-sign Observations of a patient (signed)',
        security,
        headers: signedHeaders,
        querystring: {
          type: 'object',
          properties: {
            patient: { type: 'string', maxLength: 80 },
            code: { type: 'string', maxLength: 256 },
            date: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 4 },
            _count: { type: 'integer', minimum: 1, maximum: MAX_COUNT },
            _page: { type: 'string', maxLength: 40 },
            _format: { type: 'string', maxLength: 40 },
          },
          additionalProperties: false,
        },
        response: bundleResponse,
      },
    },
    async (req, reply) => {
      const who = caller(ctx, req);
      const patientHex = patientRef(req.query.patient);
      const patient = Buffer.from(patientHex, 'hex');
      let kinds: number[] = [...FHIR_KINDS];
      const explicit = req.query.code !== undefined;
      if (explicit) {
        const set = new Set<number>();
        for (const token of req.query.code!.split(',')) {
          const k = kindsForCode(token.trim());
          if (!k)
            throw new ApiError(
              400,
              'UNKNOWN_CODE',
              'Unsupported code',
              `not a supported vital-sign code: ${token}`,
            );
          for (const x of k) set.add(x);
        }
        kinds = [...set].sort();
      }
      const { from, to } = dateRange(req.query.date ?? []);
      const count = req.query._count ?? 100;
      const page = decodePage(req.query._page);
      const start = Math.max(from, page?.at ?? 0);
      const skip = page?.skip ?? 0;
      // Each kind is read, in index order (time, then source), until it has `need` rows or ends: then the
      // first `need` entries of the merged order are exactly those of the whole series (an unread row of
      // a truncated kind sorts after its `need` read ones), and this page, skip and count included, lies
      // inside them. One readReadings call holds at most MAX_PAGE rows, so a kind may take several:
      // capping a kind at MAX_PAGE lost entries at _count=1000 (a resumed page read fewer rows than it
      // skipped and returned, and then had no next link). Bounded: decodePage allows at most 4 digits of
      // skip, so a kind holds at most 11,000 rows here.
      const need = count + skip + 1;
      const readings: Reading[] = [];
      // Research readings name no signer; the query layer ranks them at their instant instead (ordinal).
      // A systolic and a diastolic pair by that rank only if it was taken over both kinds' signers:
      // these readings came from such pages (see `pairedKind`).
      const pairedRank = new Set<Reading>();
      const read: string[] = [];
      let basis: AccessBasis | undefined;
      let denial: AccessDenied | undefined;
      let truncated = false;
      for (const kind of kinds) {
        const other = kind === 3 ? 4 : kind === 4 ? 3 : undefined;
        const pairedKind = other !== undefined && kinds.includes(other) ? other : undefined;
        try {
          let got = 0;
          let cursor: string | null = null;
          do {
            const p = await readReadings(
              ctx.view,
              who,
              {
                patient: new Uint8Array(patient),
                kind,
                from: start,
                to,
                limit: Math.min(MAX_PAGE, need - got),
                cursor,
                ...(pairedKind !== undefined ? { pairedKind } : {}),
              },
              ctx.now(),
            );
            readings.push(...p.items);
            if (p.pairedWith !== undefined) for (const r of p.items) pairedRank.add(r);
            got += p.items.length;
            basis = p.access;
            cursor = p.next;
          } while (cursor !== null && got < need);
          read.push(readingCategory(kind as ReadingKind));
          if (cursor !== null) truncated = true;
        } catch (e) {
          // Without a code, a search returns the kinds the caller may see; with one, a refusal is an error.
          if (e instanceof AccessDenied && !explicit) {
            denial ??= e;
            continue;
          }
          throw e;
        }
      }
      if (read.length === 0 && denial) throw denial;
      const kindOf = sourceKinds();
      // One entry per reading; a systolic and a diastolic with the same time and source are one panel.
      // Research readings have no source but an ordinal, the source's rank at that time: a reading's
      // stand-in for its source, in the same order. `half` keeps the halves of a panel ranked within their
      // own kind apart (1 = diastolic), whose ranks do not name one source across the two kinds.
      type Entry = {
        at: number;
        order: number;
        half: number;
        rank: number;
        source: string;
        readings: Reading[];
        unpairedHalf: boolean;
      };
      const entries: Entry[] = [];
      const panels = new Map<string, Entry>();
      for (const r of readings) {
        const source = r.source ? toHex(r.source) : '';
        const rank = r.ordinal ?? 0;
        if (r.kind === 3 || r.kind === 4) {
          const unpairedHalf = r.ordinal !== undefined && !pairedRank.has(r);
          const half = unpairedHalf && r.kind === 4 ? 1 : 0;
          const k =
            r.ordinal === undefined
              ? `${r.measuredAt}:${source}`
              : `${r.measuredAt}:${unpairedHalf ? `${r.kind}:` : ''}${rank}`;
          const e = panels.get(k);
          if (e) {
            e.readings.push(r);
            e.readings.sort((a, b) => a.kind - b.kind);
            continue;
          }
          const n = { at: r.measuredAt, order: 3, half, rank, source, readings: [r], unpairedHalf };
          panels.set(k, n);
          entries.push(n);
        } else {
          entries.push({
            at: r.measuredAt,
            order: r.kind,
            half: 0,
            rank,
            source,
            readings: [r],
            unpairedHalf: false,
          });
        }
      }
      // Time, kind, then source (for research its rank): the index's own order within a kind, so that
      // what was read of each kind is a prefix of this order (see `need`). A rank over both kinds of a
      // panel is in the key order of each kind's signers, so it keeps this for the two kinds at once.
      entries.sort(
        (a, b) =>
          a.at - b.at ||
          a.order - b.order ||
          a.half - b.half ||
          a.rank - b.rank ||
          (a.source < b.source ? -1 : a.source > b.source ? 1 : 0),
      );
      let skipped = 0;
      const rest = entries.filter((e) => {
        if (page && e.at === page.at && skipped < skip) {
          skipped++;
          return false;
        }
        return true;
      });
      const chosen = rest.slice(0, count);
      const more = rest.length > count || (truncated && chosen.length === count);
      const resources: Json[] = [];
      for (const e of chosen) {
        const src = e.readings[0]!.source;
        resources.push(
          observation({
            patientHex,
            readings: e.readings,
            ...(src ? { sourceKind: await kindOf(src) } : {}),
            unpairedHalf: e.unpairedHalf,
          }),
        );
      }
      if (basis) recordRead(ctx, who, new Uint8Array(patient), read, basis);
      const base = baseUrl(req);
      let next: string | undefined;
      if (more && chosen.length > 0) {
        const last = chosen[chosen.length - 1]!.at;
        const atLast = chosen.filter((e) => e.at === last).length + (page && page.at === last ? skip : 0);
        const q = new URLSearchParams();
        q.set('patient', patientHex);
        if (req.query.code) q.set('code', req.query.code);
        for (const d of req.query.date ?? []) q.append('date', d);
        q.set('_count', String(count));
        q.set('_page', encodePage(last, atLast));
        next = `${base}/Observation?${q}`;
      }
      return send(reply, bundle(`${base}${req.url.slice('/fhir'.length)}`, resources, base, next));
    },
  );

  app.get<{ Querystring: { patient?: string; target?: string } }>(
    '/Provenance',
    {
      schema: {
        summary:
          'FHIR search: where an Observation came from (device or clinician, transaction, block) (signed)',
        security,
        headers: signedHeaders,
        querystring: {
          type: 'object',
          properties: {
            patient: { type: 'string', maxLength: 80 },
            target: { type: 'string', maxLength: 80 },
          },
          additionalProperties: false,
        },
        response: bundleResponse,
      },
    },
    async (req, reply) => {
      const who = caller(ctx, req);
      const patientHex = patientRef(req.query.patient);
      const patient = new Uint8Array(Buffer.from(patientHex, 'hex'));
      // A Provenance is the transaction, the block and the signer of a reading: what research reads are
      // de-identified of (query.ts). Refused before reading anything, like the other routes that would
      // name a signer (patient-data-access.ts).
      if (who.purpose === 2)
        throw new ApiError(
          403,
          'NOT_DEIDENTIFIED',
          'Research reads are de-identified',
          'a Provenance names the transaction, block and signer of a reading',
        );
      const target = /^Observation\/(.+)$/.exec(req.query.target ?? '')?.[1];
      if (target && isResearchObservationId(target))
        throw new ApiError(
          400,
          'BAD_SEARCH_PARAMETER',
          'target: an Observation id of a research read names no transaction and has no Provenance',
        );
      const id = target ? parseObservationId(target) : undefined;
      if (!id)
        throw new ApiError(
          400,
          'BAD_SEARCH_PARAMETER',
          'target: Observation/<id> from an Observation search expected',
        );
      const resources: Json[] = [];
      const read: string[] = [];
      let basis: AccessBasis | undefined;
      const kindOf = sourceKinds();
      for (const kind of id.kinds) {
        const p = await readReadings(
          ctx.view,
          who,
          { patient, kind, from: id.measuredAt, to: id.measuredAt + 1, limit: 100 },
          ctx.now(),
        );
        basis = p.access;
        read.push(readingCategory(kind as ReadingKind));
        const r = p.items.find((x) => x.txId && toHex(x.txId).startsWith(id.txPrefix));
        if (r && resources.length === 0) {
          resources.push(
            provenance({
              observationId: target!,
              reading: r,
              sourceKind: r.source ? await kindOf(r.source) : 'Device',
              chainId: ctx.chainId,
            }),
          );
        }
      }
      if (basis) recordRead(ctx, who, patient, read, basis);
      const base = baseUrl(req);
      return send(reply, bundle(`${base}${req.url.slice('/fhir'.length)}`, resources, base));
    },
  );

  app.get<{ Querystring: { patient?: string } }>(
    '/Consent',
    {
      schema: {
        summary: "FHIR search: the patient's live grants as Consent resources (signed; patient or guardian)",
        security,
        headers: signedHeaders,
        querystring: {
          type: 'object',
          properties: { patient: { type: 'string', maxLength: 80 } },
          additionalProperties: false,
        },
        response: bundleResponse,
      },
    },
    async (req, reply) => {
      const who = caller(ctx, req);
      const patientHex = patientRef(req.query.patient);
      const c = await readConsents(ctx.view, who, new Uint8Array(Buffer.from(patientHex, 'hex')), ctx.now());
      const base = baseUrl(req);
      return send(
        reply,
        bundle(
          `${base}${req.url.slice('/fhir'.length)}`,
          c.grants.map((g) => consent(patientHex, grantJson(g) as Parameters<typeof consent>[1])),
          base,
        ),
      );
    },
  );

  app.get<{ Querystring: { patient?: string; _count?: number; _page?: string } }>(
    '/AuditEvent',
    {
      schema: {
        summary: "FHIR search: the patient's audit trail, break-glass included (signed; patient or guardian)",
        security,
        headers: signedHeaders,
        querystring: {
          type: 'object',
          properties: {
            patient: { type: 'string', maxLength: 80 },
            _count: { type: 'integer', minimum: 1, maximum: MAX_COUNT },
            _page: { type: 'string', maxLength: 40 },
          },
          additionalProperties: false,
        },
        response: bundleResponse,
      },
    },
    async (req, reply) => {
      const who = caller(ctx, req);
      const patientHex = patientRef(req.query.patient);
      const r = await readAuditTrail(ctx.view, who, {
        patient: new Uint8Array(Buffer.from(patientHex, 'hex')),
        fromHeight: decodeHeightPage(req.query._page),
        limit: req.query._count ?? 100,
      });
      const subs = new Map<string, number>();
      const resources = r.items.map((i) => {
        const k = `${i.height}-${i.position}`;
        const sub = subs.get(k) ?? 0;
        subs.set(k, sub + 1);
        return auditEvent(
          patientHex,
          {
            height: i.height,
            position: i.position,
            sub,
            event: i.event,
            actorHex: toHex(i.actor),
            categories: i.categories,
            purpose: i.purpose,
            at: i.at,
            txIdHex: toHex(i.txId),
            detail: i.detail,
          },
          ctx.chainId,
        );
      });
      const base = baseUrl(req);
      const next =
        r.nextHeight === null
          ? undefined
          : `${base}/AuditEvent?patient=${patientHex}&_count=${req.query._count ?? 100}&_page=${r.nextHeight}`;
      return send(reply, bundle(`${base}${req.url.slice('/fhir'.length)}`, resources, base, next));
    },
  );
}
