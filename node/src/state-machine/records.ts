// The state machine's records and their canonical CBOR layout (fixed-position arrays, docs/state-machine.md
// "Records"), plus a typed store over StateAccess. Records are read and written whole; the lists inside
// (guardians, grants, emergencies, approvals, validators) are bounded by LIMITS so a record stays small.

import { type CborValue, decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import type { StateAccess } from '../exec/types.ts';
import { encodeSimpleDirect } from '../store/cbor-direct.ts';
import { Slab } from '../store/slab.ts';
import { Keys } from './keys.ts';
import { PARAM_NAMES, PARAMS, type Params } from './params.ts';

export const Role = { orgAdmin: 1, clinician: 2, researcher: 3 } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ActorStatus = { active: 0, suspended: 1 } as const;
export const DeviceStatus = { active: 0, suspended: 1, revoked: 2 } as const;
export const AlertStatus = { open: 0, acknowledged: 1 } as const;

export interface ActorRecord {
  role: Role;
  orgId: string;
  status: number;
  /** Licence id for clinicians, study id for researchers, '' for admins. */
  credential: string;
  since: number;
  enrolledBy: Uint8Array | null;
}

export interface PatientRecord {
  /** Organisation that registered the patient, or null for self-registration. */
  registeredBy: string | null;
  since: number;
  guardians: Uint8Array[];
  researchOptIn: boolean;
}

export interface DeviceRecord {
  patient: Uint8Array;
  /** The key of the original binding: stays the same across rotations (per-device reading order). */
  deviceId: Uint8Array;
  status: number;
  validFrom: number;
  validUntil: number;
  /** Set when rotated: the key is still accepted until this time. */
  retiresAt: number | null;
  successor: Uint8Array | null;
  boundBy: Uint8Array;
}

export interface OrgRecord {
  name: string;
  since: number;
}

export interface ValidatorEntry {
  publicKey: Uint8Array;
  orgId: string;
  /** Effective height A of its addition (0 at genesis): it certifies heights from A + 1 (ADR 0015). */
  fromHeight: number;
  /** Effective height A of its removal, or null: it certifies heights up to and including A. */
  untilHeight: number | null;
}

export interface ProposalRecord {
  /** The proposal as its wire body array (see wire/bodies GovernanceProposal). */
  proposal: CborValue;
  proposer: Uint8Array;
  proposedAt: number;
  expiresAt: number;
  approvals: string[];
  executedAt: number | null;
}

export interface GrantRecord {
  grantId: Uint8Array;
  granteeKind: 1 | 2;
  /** Grantee public key (kind 1) or organisation id (kind 2). */
  grantee: Uint8Array | string;
  scopes: string[];
  purpose: number;
  expiresAt: number;
  grantedBy: Uint8Array;
  grantedAt: number;
}

export interface EmergencyRecord {
  accessId: Uint8Array;
  clinician: Uint8Array;
  reasonCode: string;
  reason: string;
  openedAt: number;
  expiresAt: number;
}

export interface AlertRecord {
  seq: number;
  /** `threshold.high.<kind name>`, `threshold.low.<kind name>` or `news2`. */
  cause: string;
  kind: number | null;
  value: number | null;
  news2Total: number | null;
  news2Band: number | null;
  missing: string[];
  oldestAgeMs: number;
  raisedAt: number;
  height: number;
  status: number;
  ackBy: Uint8Array | null;
  ackAt: number | null;
}

export interface PolicyRecord {
  thresholds: { kind: number; low: number; high: number }[];
  spo2Scale2: boolean;
  setBy: Uint8Array;
  setAt: number;
}

/** Latest value of each reading kind, by measurement time: index kind-1, null when never measured. */
export type LatestRecord = ({ value: number; measuredAt: number } | null)[];

export interface News2StateRecord {
  total: number;
  band: number;
  computedAt: number;
}

// ---- codecs: each record is a fixed-position array; `n` is null-or-value helpers ----

type V = CborValue;
const a = (v: V): V[] => v as V[];
const b = (v: V): Uint8Array => v as Uint8Array;
const nb = (v: V): Uint8Array | null => (v === null ? null : (v as Uint8Array));
const n = (v: V): number => v as number;
const nn = (v: V): number | null => (v === null ? null : (v as number));
const s = (v: V): string => v as string;

export const Codec = {
  actor: {
    enc: (r: ActorRecord): V => [r.role, r.orgId, r.status, r.credential, r.since, r.enrolledBy],
    dec: (v: V): ActorRecord => {
      const f = a(v);
      return {
        role: n(f[0]!) as Role,
        orgId: s(f[1]!),
        status: n(f[2]!),
        credential: s(f[3]!),
        since: n(f[4]!),
        enrolledBy: nb(f[5]!),
      };
    },
  },
  patient: {
    enc: (r: PatientRecord): V => [r.registeredBy, r.since, r.guardians, r.researchOptIn],
    dec: (v: V): PatientRecord => {
      const f = a(v);
      return {
        registeredBy: f[0] === null ? null : s(f[0]!),
        since: n(f[1]!),
        guardians: a(f[2]!).map(b),
        researchOptIn: f[3] as boolean,
      };
    },
  },
  device: {
    enc: (r: DeviceRecord): V => [
      r.patient,
      r.deviceId,
      r.status,
      r.validFrom,
      r.validUntil,
      r.retiresAt,
      r.successor,
      r.boundBy,
    ],
    dec: (v: V): DeviceRecord => {
      const f = a(v);
      return {
        patient: b(f[0]!),
        deviceId: b(f[1]!),
        status: n(f[2]!),
        validFrom: n(f[3]!),
        validUntil: n(f[4]!),
        retiresAt: nn(f[5]!),
        successor: nb(f[6]!),
        boundBy: b(f[7]!),
      };
    },
  },
  org: {
    enc: (r: OrgRecord): V => [r.name, r.since],
    dec: (v: V): OrgRecord => ({ name: s(a(v)[0]!), since: n(a(v)[1]!) }),
  },
  validators: {
    enc: (r: ValidatorEntry[]): V => r.map((e) => [e.publicKey, e.orgId, e.fromHeight, e.untilHeight]),
    dec: (v: V): ValidatorEntry[] =>
      a(v).map((e) => {
        const f = a(e);
        return { publicKey: b(f[0]!), orgId: s(f[1]!), fromHeight: n(f[2]!), untilHeight: nn(f[3]!) };
      }),
  },
  proposal: {
    enc: (r: ProposalRecord): V => [
      r.proposal,
      r.proposer,
      r.proposedAt,
      r.expiresAt,
      r.approvals,
      r.executedAt,
    ],
    dec: (v: V): ProposalRecord => {
      const f = a(v);
      return {
        proposal: f[0]!,
        proposer: b(f[1]!),
        proposedAt: n(f[2]!),
        expiresAt: n(f[3]!),
        approvals: a(f[4]!).map(s),
        executedAt: nn(f[5]!),
      };
    },
  },
  grants: {
    enc: (r: GrantRecord[]): V =>
      r.map((g) => [
        g.grantId,
        g.granteeKind,
        g.grantee,
        g.scopes,
        g.purpose,
        g.expiresAt,
        g.grantedBy,
        g.grantedAt,
      ]),
    dec: (v: V): GrantRecord[] =>
      a(v).map((e) => {
        const f = a(e);
        return {
          grantId: b(f[0]!),
          granteeKind: n(f[1]!) as 1 | 2,
          grantee: f[2] as Uint8Array | string,
          scopes: a(f[3]!).map(s),
          purpose: n(f[4]!),
          expiresAt: n(f[5]!),
          grantedBy: b(f[6]!),
          grantedAt: n(f[7]!),
        };
      }),
  },
  emergencies: {
    enc: (r: EmergencyRecord[]): V =>
      r.map((e) => [e.accessId, e.clinician, e.reasonCode, e.reason, e.openedAt, e.expiresAt]),
    dec: (v: V): EmergencyRecord[] =>
      a(v).map((e) => {
        const f = a(e);
        return {
          accessId: b(f[0]!),
          clinician: b(f[1]!),
          reasonCode: s(f[2]!),
          reason: s(f[3]!),
          openedAt: n(f[4]!),
          expiresAt: n(f[5]!),
        };
      }),
  },
  alert: {
    enc: (r: AlertRecord): V => [
      r.seq,
      r.cause,
      r.kind,
      r.value,
      r.news2Total,
      r.news2Band,
      r.missing,
      r.oldestAgeMs,
      r.raisedAt,
      r.height,
      r.status,
      r.ackBy,
      r.ackAt,
    ],
    dec: (v: V): AlertRecord => {
      const f = a(v);
      return {
        seq: n(f[0]!),
        cause: s(f[1]!),
        kind: nn(f[2]!),
        value: nn(f[3]!),
        news2Total: nn(f[4]!),
        news2Band: nn(f[5]!),
        missing: a(f[6]!).map(s),
        oldestAgeMs: n(f[7]!),
        raisedAt: n(f[8]!),
        height: n(f[9]!),
        status: n(f[10]!),
        ackBy: nb(f[11]!),
        ackAt: nn(f[12]!),
      };
    },
  },
  policy: {
    enc: (r: PolicyRecord): V => [
      r.thresholds.map((t) => [t.kind, t.low, t.high]),
      r.spo2Scale2,
      r.setBy,
      r.setAt,
    ],
    dec: (v: V): PolicyRecord => {
      const f = a(v);
      return {
        thresholds: a(f[0]!).map((t) => ({ kind: n(a(t)[0]!), low: n(a(t)[1]!), high: n(a(t)[2]!) })),
        spo2Scale2: f[1] as boolean,
        setBy: b(f[2]!),
        setAt: n(f[3]!),
      };
    },
  },
  latest: {
    enc: (r: LatestRecord): V => r.map((e) => (e ? [e.value, e.measuredAt] : null)),
    dec: (v: V): LatestRecord =>
      a(v).map((e) => (e === null ? null : { value: n(a(e)[0]!), measuredAt: n(a(e)[1]!) })),
  },
  news2: {
    enc: (r: News2StateRecord): V => [r.total, r.band, r.computedAt],
    dec: (v: V): News2StateRecord => ({ total: n(a(v)[0]!), band: n(a(v)[1]!), computedAt: n(a(v)[2]!) }),
  },
  number: { enc: (x: number): V => x, dec: (v: V): number => n(v) },
  /** `[[name, value]...]` sorted by name; unknown names (from a newer version) are ignored on read. */
  params: {
    enc: (p: Partial<Params>): V =>
      Object.entries(p)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, x as number]),
    dec: (v: V): Partial<Params> =>
      Object.fromEntries(a(v).map((e) => [s(a(e)[0]!), n(a(e)[1]!)])) as Partial<Params>,
  },
  numbers: { enc: (x: number[]): V => x, dec: (v: V): number[] => a(v).map(n) },
  strings: { enc: (x: string[]): V => x, dec: (v: V): string[] => a(v).map(s) },
} as const;

export interface RecordCodec<T> {
  enc(r: T): CborValue;
  dec(v: CborValue): T;
}

/** Minimal read interface shared by handlers (StateAccess) and the query layer (ReadView.state). */
export interface StateGet {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
}

export async function readRecord<T>(
  state: StateGet,
  key: Uint8Array,
  codec: RecordCodec<T>,
): Promise<T | undefined> {
  const raw = await state.get(key);
  return raw === undefined ? undefined : codec.dec(decodeCanonical(raw));
}

export function writeRecord<T>(state: StateAccess, key: Uint8Array, codec: RecordCodec<T>, r: T): void {
  state.put(key, encodeRecordValue(codec.enc(r)));
}

/**
 * Canonical CBOR of a record or index value: written directly for the simple shapes every readings
 * transaction writes (store/cbor-direct.ts, byte-identical), through the generic encoder otherwise.
 */
export function encodeRecordValue(v: CborValue): Uint8Array {
  return encodeSimpleDirect(v) ?? encodeCanonical(v);
}

const indexSlab = new Slab();

/**
 * encodeRecordValue for a secondary-index value (IndexAccess.put): these are read back at most within
 * their block and die with its batch, so they are carved from a shared slab (store/slab.ts) instead of
 * getting a backing store each. Not for state records: the state cache keeps those.
 */
export function encodeIndexValue(v: CborValue): Uint8Array {
  return encodeSimpleDirect(v, (size) => indexSlab.alloc(size)) ?? encodeCanonical(v);
}

/** The chain parameters in force: the state's value, else `fallback`, else the built-in default. */
export async function readParams(state: StateGet, fallback: Partial<Params> = {}): Promise<Params> {
  const stored = (await readRecord(state, Keys.params(), Codec.params)) ?? {};
  const out = {} as Params;
  for (const name of PARAM_NAMES) out[name] = stored[name] ?? fallback[name] ?? PARAMS[name].default;
  return out;
}
