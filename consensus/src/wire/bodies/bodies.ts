// Typed codecs for the body of every transaction type. A body is a fixed-position CBOR array (the order
// of fields is the protocol); `decodeBody` validates structure, sizes and enumerations, and `encodeBody`
// is its inverse. Semantic rules (who may send what, against which state) are the state machine's job
// (docs/state-machine.md); this layer guarantees it never sees a malformed field.

import type { CborValue } from '../cbor.ts';
import { BodyError } from './errors.ts';
import { bool, fields, int, key32, list, oneOf, text, uint } from './fields.ts';
import { isCategory, isScope } from './scope.ts';

export const ORG_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** Identifiers (licence, study, reason codes, parameter names): printable ASCII without spaces. */
const TOKEN = /^[A-Za-z0-9._:/-]+$/;
export const MAX_READINGS_PER_TX = 64;
export const MAX_SCOPES = 16;
export const MAX_ORG_ADMINS = 8;
export const MAX_REASON_BYTES = 512;

export const GovernanceAction = {
  registerOrganisation: 1,
  addValidator: 2,
  removeValidator: 3,
  setParameter: 4,
} as const;
export type GovernanceAction = (typeof GovernanceAction)[keyof typeof GovernanceAction];

export const Purpose = { treatment: 1, research: 2, emergency: 3 } as const;
export type Purpose = (typeof Purpose)[keyof typeof Purpose];
export const PURPOSES: readonly Purpose[] = [1, 2, 3];

export const GranteeKind = { actor: 1, organisation: 2 } as const;
export type GranteeKind = (typeof GranteeKind)[keyof typeof GranteeKind];

/** HL7 v3 ActReason codes accepted for break-glass access. */
export const EMERGENCY_REASON_CODES: readonly string[] = ['ETREAT', 'BTG', 'ERTREAT'];

export type GovernanceProposal =
  | { action: 1; orgId: string; name: string; admins: Uint8Array[] }
  | { action: 2; publicKey: Uint8Array; orgId: string }
  | { action: 3; publicKey: Uint8Array }
  | { action: 4; name: string; value: number };

export interface ReadingEntry {
  kind: number;
  value: number;
  unit: string;
  measuredAt: number;
}

export interface Threshold {
  kind: number;
  low: number;
  high: number;
}

export type Grantee = { kind: 1; key: Uint8Array } | { kind: 2; orgId: string };

export type TxBody =
  | { type: 1; proposal: GovernanceProposal }
  | { type: 2; proposalId: Uint8Array }
  | { type: 10; publicKey: Uint8Array; licenceId: string }
  | { type: 11; publicKey: Uint8Array; studyId: string }
  | { type: 12; publicKey: Uint8Array; reasonCode: string }
  | { type: 13; publicKey: Uint8Array }
  | { type: 20; patient: Uint8Array }
  | { type: 21; patient: Uint8Array; guardian: Uint8Array }
  | { type: 22; patient: Uint8Array; guardian: Uint8Array }
  | { type: 30; device: Uint8Array; patient: Uint8Array; validFrom: number; validUntil: number }
  | { type: 31; device: Uint8Array; newKey: Uint8Array; overlapMs: number }
  | { type: 32; device: Uint8Array; suspended: boolean }
  | { type: 33; device: Uint8Array }
  | {
      type: 40;
      patient: Uint8Array;
      grantee: Grantee;
      scopes: string[];
      purpose: Purpose;
      expiresAt: number;
    }
  | { type: 41; patient: Uint8Array; grantId: Uint8Array }
  | { type: 42; patient: Uint8Array; reasonCode: string; reason: string; durationMs: number }
  | { type: 43; patient: Uint8Array; accessId: Uint8Array }
  | { type: 44; patient: Uint8Array; optIn: boolean }
  | { type: 50; patient: Uint8Array; readings: ReadingEntry[] }
  | { type: 51; patient: Uint8Array; readings: ReadingEntry[] }
  | {
      type: 52;
      reader: Uint8Array;
      patient: Uint8Array;
      categories: string[];
      purpose: Purpose;
      readAt: number;
    }
  | { type: 60; patient: Uint8Array; thresholds: Threshold[]; spo2Scale2: boolean }
  | { type: 61; patient: Uint8Array; alertSeq: number };

export type BodyOf<T extends TxBody['type']> = Extract<TxBody, { type: T }>;

function decodeProposal(v: CborValue): GovernanceProposal {
  const [actionV, argsV] = fields(v, 2, 'proposal');
  const action = oneOf(actionV, 'proposal.action', [1, 2, 3, 4] as const);
  switch (action) {
    case 1: {
      const a = fields(argsV, 3, 'proposal.args');
      const admins = list(a[2], 'proposal.args.admins', 1, MAX_ORG_ADMINS).map((k, i) =>
        key32(k, `proposal.args.admins[${i}]`),
      );
      return {
        action,
        orgId: text(a[0], 'proposal.args.orgId', 32, ORG_ID_PATTERN),
        name: text(a[1], 'proposal.args.name', 128),
        admins,
      };
    }
    case 2: {
      const a = fields(argsV, 2, 'proposal.args');
      return {
        action,
        publicKey: key32(a[0], 'proposal.args.publicKey'),
        orgId: text(a[1], 'proposal.args.orgId', 32, ORG_ID_PATTERN),
      };
    }
    case 3: {
      const a = fields(argsV, 1, 'proposal.args');
      return { action, publicKey: key32(a[0], 'proposal.args.publicKey') };
    }
    case 4: {
      const a = fields(argsV, 2, 'proposal.args');
      return {
        action,
        name: text(a[0], 'proposal.args.name', 64, TOKEN),
        value: uint(a[1], 'proposal.args.value'),
      };
    }
  }
}

function encodeProposal(p: GovernanceProposal): CborValue {
  switch (p.action) {
    case 1:
      return [1, [p.orgId, p.name, p.admins]];
    case 2:
      return [2, [p.publicKey, p.orgId]];
    case 3:
      return [3, [p.publicKey]];
    case 4:
      return [4, [p.name, p.value]];
  }
}

function decodeReadings(v: CborValue): ReadingEntry[] {
  return list(v, 'readings', 1, MAX_READINGS_PER_TX).map((r, i) => {
    const f = fields(r, 4, `readings[${i}]`);
    return {
      kind: uint(f[0], `readings[${i}].kind`, 1, 255),
      value: int(f[1], `readings[${i}].value`),
      unit: text(f[2], `readings[${i}].unit`, 16),
      measuredAt: uint(f[3], `readings[${i}].measuredAt`),
    };
  });
}

function categories(v: CborValue, path: string, check: (s: string) => boolean): string[] {
  const out = list(v, path, 1, MAX_SCOPES).map((s, i) => {
    const c = text(s, `${path}[${i}]`, 64);
    if (!check(c)) throw new BodyError('BODY_ENUM', `${path}[${i}]`, `unknown ${path} '${c}'`);
    return c;
  });
  if (new Set(out).size !== out.length) throw new BodyError('BODY_FIELD', path, 'duplicate entries');
  return out;
}

/** Validates and types the body of a transaction of type `type`. Throws BodyError. */
export function decodeBody(type: number, body: CborValue[]): TxBody {
  switch (type) {
    case 1: {
      const [p] = fields(body, 1, 'body');
      return { type, proposal: decodeProposal(p) };
    }
    case 2: {
      const [id] = fields(body, 1, 'body');
      return { type, proposalId: key32(id, 'proposalId') };
    }
    case 10: {
      const [k, l] = fields(body, 2, 'body');
      return { type, publicKey: key32(k, 'publicKey'), licenceId: text(l, 'licenceId', 64, TOKEN) };
    }
    case 11: {
      const [k, s] = fields(body, 2, 'body');
      return { type, publicKey: key32(k, 'publicKey'), studyId: text(s, 'studyId', 64, TOKEN) };
    }
    case 12: {
      const [k, r] = fields(body, 2, 'body');
      return { type, publicKey: key32(k, 'publicKey'), reasonCode: text(r, 'reasonCode', 32, TOKEN) };
    }
    case 13: {
      const [k] = fields(body, 1, 'body');
      return { type, publicKey: key32(k, 'publicKey') };
    }
    case 20: {
      const [p] = fields(body, 1, 'body');
      return { type, patient: key32(p, 'patient') };
    }
    case 21:
    case 22: {
      const [p, g] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), guardian: key32(g, 'guardian') };
    }
    case 30: {
      const [d, p, from, until] = fields(body, 4, 'body');
      return {
        type,
        device: key32(d, 'device'),
        patient: key32(p, 'patient'),
        validFrom: uint(from, 'validFrom'),
        validUntil: uint(until, 'validUntil'),
      };
    }
    case 31: {
      const [d, n, o] = fields(body, 3, 'body');
      return {
        type,
        device: key32(d, 'device'),
        newKey: key32(n, 'newKey'),
        overlapMs: uint(o, 'overlapMs'),
      };
    }
    case 32: {
      const [d, s] = fields(body, 2, 'body');
      return { type, device: key32(d, 'device'), suspended: bool(s, 'suspended') };
    }
    case 33: {
      const [d] = fields(body, 1, 'body');
      return { type, device: key32(d, 'device') };
    }
    case 40: {
      const [p, gk, g, sc, pu, ex] = fields(body, 6, 'body');
      const kind = oneOf(gk, 'granteeKind', [1, 2] as const);
      const grantee: Grantee =
        kind === 1
          ? { kind, key: key32(g, 'grantee') }
          : { kind, orgId: text(g, 'grantee', 32, ORG_ID_PATTERN) };
      return {
        type,
        patient: key32(p, 'patient'),
        grantee,
        scopes: categories(sc, 'scopes', isScope),
        purpose: oneOf(pu, 'purpose', PURPOSES),
        expiresAt: uint(ex, 'expiresAt'),
      };
    }
    case 41: {
      const [p, id] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), grantId: key32(id, 'grantId') };
    }
    case 42: {
      const [p, code, reason, d] = fields(body, 4, 'body');
      const reasonCode = text(code, 'reasonCode', 16, TOKEN);
      if (!EMERGENCY_REASON_CODES.includes(reasonCode)) {
        throw new BodyError(
          'BODY_ENUM',
          'reasonCode',
          `expected one of ${EMERGENCY_REASON_CODES.join(', ')}`,
        );
      }
      return {
        type,
        patient: key32(p, 'patient'),
        reasonCode,
        reason: text(reason, 'reason', MAX_REASON_BYTES),
        durationMs: uint(d, 'durationMs', 1),
      };
    }
    case 43: {
      const [p, id] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), accessId: key32(id, 'accessId') };
    }
    case 44: {
      const [p, o] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), optIn: bool(o, 'optIn') };
    }
    case 50:
    case 51: {
      const [p, r] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), readings: decodeReadings(r) };
    }
    case 52: {
      const [r, p, c, pu, at] = fields(body, 5, 'body');
      return {
        type,
        reader: key32(r, 'reader'),
        patient: key32(p, 'patient'),
        categories: categories(c, 'categories', isCategory),
        purpose: oneOf(pu, 'purpose', PURPOSES),
        readAt: uint(at, 'readAt'),
      };
    }
    case 60: {
      const [p, th, s2] = fields(body, 3, 'body');
      const thresholds = list(th, 'thresholds', 0, 8).map((x, i) => {
        const f = fields(x, 3, `thresholds[${i}]`);
        const t = {
          kind: uint(f[0], `thresholds[${i}].kind`, 1, 255),
          low: int(f[1], `thresholds[${i}].low`),
          high: int(f[2], `thresholds[${i}].high`),
        };
        if (t.low > t.high) throw new BodyError('BODY_FIELD', `thresholds[${i}]`, 'low above high');
        return t;
      });
      if (new Set(thresholds.map((t) => t.kind)).size !== thresholds.length) {
        throw new BodyError('BODY_FIELD', 'thresholds', 'duplicate kinds');
      }
      return { type, patient: key32(p, 'patient'), thresholds, spo2Scale2: bool(s2, 'spo2Scale2') };
    }
    case 61: {
      const [p, s] = fields(body, 2, 'body');
      return { type, patient: key32(p, 'patient'), alertSeq: uint(s, 'alertSeq', 1) };
    }
    default:
      throw new BodyError('BODY_UNKNOWN_TYPE', 'type', `no body schema for type ${type}`);
  }
}

/** The fixed-position CBOR array for a typed body; `decodeBody(b.type, encodeBody(b))` returns `b`. */
export function encodeBody(b: TxBody): CborValue[] {
  switch (b.type) {
    case 1:
      return [encodeProposal(b.proposal)];
    case 2:
      return [b.proposalId];
    case 10:
      return [b.publicKey, b.licenceId];
    case 11:
      return [b.publicKey, b.studyId];
    case 12:
      return [b.publicKey, b.reasonCode];
    case 13:
      return [b.publicKey];
    case 20:
      return [b.patient];
    case 21:
    case 22:
      return [b.patient, b.guardian];
    case 30:
      return [b.device, b.patient, b.validFrom, b.validUntil];
    case 31:
      return [b.device, b.newKey, b.overlapMs];
    case 32:
      return [b.device, b.suspended];
    case 33:
      return [b.device];
    case 40:
      return [
        b.patient,
        b.grantee.kind,
        b.grantee.kind === 1 ? b.grantee.key : b.grantee.orgId,
        b.scopes,
        b.purpose,
        b.expiresAt,
      ];
    case 41:
      return [b.patient, b.grantId];
    case 42:
      return [b.patient, b.reasonCode, b.reason, b.durationMs];
    case 43:
      return [b.patient, b.accessId];
    case 44:
      return [b.patient, b.optIn];
    case 50:
    case 51:
      return [b.patient, b.readings.map((r) => [r.kind, r.value, r.unit, r.measuredAt])];
    case 52:
      return [b.reader, b.patient, b.categories, b.purpose, b.readAt];
    case 60:
      return [b.patient, b.thresholds.map((t) => [t.kind, t.low, t.high]), b.spo2Scale2];
    case 61:
      return [b.patient, b.alertSeq];
  }
}
