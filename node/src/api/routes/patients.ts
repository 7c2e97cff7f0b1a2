// Patient-data reads (docs/api.md, "Signed reads"): each request is authenticated by its ed25519
// signature, decided by the state machine's query rules (query.ts, the same decideAccess the handlers
// use), and each successful read of patient data is written to the patient's on-chain audit trail.
import { toHex } from '@vigil/consensus/wire';
import { ALERTS_CATEGORY } from '@vigil/consensus/wire/bodies/index.ts';
import { type ReadingKind, readingCategory } from '@vigil/consensus/vitals/index.ts';
import type { FastifyInstance } from 'fastify';
import {
  type AccessBasis,
  type AccessToMe,
  readAccessToMe,
  readAlerts,
  readAuditTrail,
  readConsents,
  readEarlyWarningScore,
  readReadings,
} from '../../state-machine/index.ts';
import type { GrantRecord } from '../../state-machine/records.ts';
import { type ApiContext, caller, key32, recordRead } from '../context.ts';
import { anyObject, hex32, signedHeaders } from '../schemas.ts';

const patientParams = { type: 'object', properties: { patient: hex32 }, required: ['patient'] } as const;
const security = [{ vigilSignature: [] }];
const errors = { '4xx': { $ref: 'Problem#' }, '5xx': { $ref: 'Problem#' } } as const;

export function basisJson(b: AccessBasis) {
  switch (b.via) {
    case 'grant':
      return { via: b.via, grantId: toHex(b.grantId), expiresAt: b.expiresAt };
    case 'emergency':
      return { via: b.via, accessId: toHex(b.accessId), expiresAt: b.expiresAt };
    default:
      return { via: b.via };
  }
}

export function grantJson(g: GrantRecord) {
  return {
    grantId: toHex(g.grantId),
    grantee:
      g.granteeKind === 1 ? { kind: 1, key: toHex(g.grantee as Uint8Array) } : { kind: 2, orgId: g.grantee },
    scopes: g.scopes,
    purpose: g.purpose,
    expiresAt: g.expiresAt,
    grantedBy: toHex(g.grantedBy),
    grantedAt: g.grantedAt,
  };
}

/** An entry of "grants to me" as JSON: the patient, how, and the scope, purpose and expiry it gives. */
export function accessToMeJson(a: AccessToMe) {
  const patient = toHex(a.patient);
  switch (a.via) {
    case 'grant':
      return { patient, via: a.via, ...grantJson(a.grant) };
    case 'emergency':
      return {
        patient,
        via: a.via,
        accessId: toHex(a.emergency.accessId),
        scopes: ['*'],
        purpose: 3,
        expiresAt: a.emergency.expiresAt,
        reasonCode: a.emergency.reasonCode,
        openedAt: a.emergency.openedAt,
      };
    default:
      // A guardian holds the patient's authority: every category, any purpose, until removed.
      return { patient, via: a.via, scopes: ['*'], purpose: null, expiresAt: null };
  }
}

/** CBOR values of audit details as JSON (bytes as hex). */
function jsonOf(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(jsonOf);
  return v;
}

export function registerPatientRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/me/patients',
    {
      schema: {
        summary:
          'Grants to me: the patients who give the caller access now, by grant, break-glass or guardianship (signed)',
        security,
        headers: signedHeaders,
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            cursor: { type: 'string', maxLength: 1024 },
          },
          additionalProperties: false,
        },
        response: { 200: anyObject('{items, next}'), ...errors },
      },
    },
    async (req) => {
      // About the caller only (ADR 0130): each entry is decided on the state as decideAccess counts it.
      // Not recorded in an audit trail: it serves no patient's data, and each grant it lists is already
      // in that patient's trail ("Audit of reads").
      const who = caller(ctx, req);
      const r = await readAccessToMe(
        ctx.view,
        who,
        { limit: req.query.limit ?? 100, cursor: req.query.cursor ?? null },
        ctx.now(),
      );
      return { items: r.items.map(accessToMeJson), next: r.next };
    },
  );

  app.get<{
    Params: { patient: string };
    Querystring: { kind: number; from?: number; to?: number; limit?: number; cursor?: string };
  }>(
    '/v1/patients/:patient/readings',
    {
      schema: {
        summary: 'Readings of one kind in [from, to), oldest first, paginated (signed)',
        security,
        headers: signedHeaders,
        params: patientParams,
        querystring: {
          type: 'object',
          required: ['kind'],
          properties: {
            kind: { type: 'integer', minimum: 1, maximum: 255 },
            from: { type: 'integer', minimum: 0 },
            to: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            cursor: { type: 'string', maxLength: 256 },
          },
          additionalProperties: false,
        },
        response: { 200: anyObject('{items, next, access}'), ...errors },
      },
    },
    async (req) => {
      const who = caller(ctx, req);
      const patient = key32(req.params.patient, 'patient');
      const q = req.query;
      const page = await readReadings(
        ctx.view,
        who,
        {
          patient,
          kind: q.kind,
          from: q.from ?? 0,
          to: q.to ?? Number.MAX_SAFE_INTEGER,
          limit: q.limit ?? 100,
          cursor: q.cursor ?? null,
        },
        ctx.now(),
      );
      recordRead(ctx, who, patient, [readingCategory(q.kind as ReadingKind)], page.access);
      return {
        items: page.items.map((r) => ({
          kind: r.kind,
          value: r.value,
          unit: r.unit,
          measuredAt: r.measuredAt,
          // Research reads omit these four: each one leads to the signer (docs/state-machine.md).
          ...(r.committedAt !== undefined ? { committedAt: r.committedAt } : {}),
          ...(r.height !== undefined ? { height: r.height } : {}),
          ...(r.source ? { source: toHex(r.source) } : {}),
          ...(r.txId ? { txId: toHex(r.txId) } : {}),
        })),
        next: page.next,
        access: basisJson(page.access),
      };
    },
  );

  app.get<{ Params: { patient: string }; Querystring: { open?: boolean; limit?: number } }>(
    '/v1/patients/:patient/alerts',
    {
      schema: {
        summary: "A patient's alerts, newest first (signed; category alerts)",
        security,
        headers: signedHeaders,
        params: patientParams,
        querystring: {
          type: 'object',
          properties: { open: { type: 'boolean' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          additionalProperties: false,
        },
        response: { 200: anyObject('{items, access}'), ...errors },
      },
    },
    async (req) => {
      const who = caller(ctx, req);
      const patient = key32(req.params.patient, 'patient');
      const r = await readAlerts(
        ctx.view,
        who,
        { patient, openOnly: req.query.open ?? false, limit: req.query.limit ?? 100 },
        ctx.now(),
      );
      recordRead(ctx, who, patient, [ALERTS_CATEGORY], r.access);
      return {
        items: r.items.map((a) => ({
          ...a,
          status: a.status === 0 ? 'open' : 'acknowledged',
          // Absent for research reads (de-identified), null while unacknowledged.
          ...(a.ackBy === undefined ? {} : { ackBy: a.ackBy ? toHex(a.ackBy) : null }),
        })),
        access: basisJson(r.access),
      };
    },
  );

  app.get<{ Params: { patient: string } }>(
    '/v1/patients/:patient/news2',
    {
      schema: {
        summary: 'NEWS2 over the latest values aged to now (signed; category alerts)',
        security,
        headers: signedHeaders,
        params: patientParams,
        response: { 200: anyObject('Early warning score'), ...errors },
      },
    },
    async (req) => {
      const who = caller(ctx, req);
      const patient = key32(req.params.patient, 'patient');
      const s = await readEarlyWarningScore(ctx.view, who, patient, ctx.now());
      recordRead(ctx, who, patient, [ALERTS_CATEGORY], s.access);
      return { ...s, access: basisJson(s.access) };
    },
  );

  app.get<{ Params: { patient: string } }>(
    '/v1/patients/:patient/consents',
    {
      schema: {
        summary:
          'Guardians, research opt-in, live grants and break-glass accesses (signed; patient or guardian)',
        security,
        headers: signedHeaders,
        params: patientParams,
        response: { 200: anyObject('Consents'), ...errors },
      },
    },
    async (req) => {
      const who = caller(ctx, req);
      const patient = key32(req.params.patient, 'patient');
      const c = await readConsents(ctx.view, who, patient, ctx.now());
      return {
        guardians: c.guardians.map(toHex),
        researchOptIn: c.researchOptIn,
        grants: c.grants.map(grantJson),
        emergencies: c.emergencies.map((e) => ({
          accessId: toHex(e.accessId),
          clinician: toHex(e.clinician),
          reasonCode: e.reasonCode,
          reason: e.reason,
          openedAt: e.openedAt,
          expiresAt: e.expiresAt,
        })),
      };
    },
  );

  app.get<{ Params: { patient: string }; Querystring: { fromHeight?: number; limit?: number } }>(
    '/v1/patients/:patient/audit',
    {
      schema: {
        summary:
          "The patient's audit trail: who read or changed what, oldest first (signed; patient or guardian)",
        security,
        headers: signedHeaders,
        params: patientParams,
        querystring: {
          type: 'object',
          properties: {
            fromHeight: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
          additionalProperties: false,
        },
        response: { 200: anyObject('{items, nextHeight}'), ...errors },
      },
    },
    async (req) => {
      const who = caller(ctx, req);
      const patient = key32(req.params.patient, 'patient');
      const r = await readAuditTrail(ctx.view, who, {
        patient,
        fromHeight: req.query.fromHeight ?? 0,
        limit: req.query.limit ?? 100,
      });
      return {
        items: r.items.map((i) => ({
          height: i.height,
          position: i.position,
          event: i.event,
          actor: toHex(i.actor),
          categories: i.categories,
          purpose: i.purpose,
          at: i.at,
          txId: toHex(i.txId),
          detail: jsonOf(i.detail),
        })),
        nextHeight: r.nextHeight,
      };
    },
  );
}
