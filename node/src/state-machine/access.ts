// The one access rule, shared by the handlers (may this clinician record an observation?) and the query
// layer (may this requester read this category?), so the chain and the API can never disagree.
// Evaluated at a given time `now` (the block time for handlers): an expired grant or break-glass access
// is simply not counted, no revoke needed.

import { bytesEqual } from '@vigil/consensus/wire';
import { Purpose, scopesCover } from '@vigil/consensus/wire/bodies/index.ts';
import { Keys } from './keys.ts';
import {
  type ActorRecord,
  ActorStatus,
  Codec,
  type EmergencyRecord,
  type GrantRecord,
  type PatientRecord,
  Role,
  readRecord,
  type StateGet,
} from './records.ts';

export const DenyCode = {
  UNKNOWN_PATIENT: 'UNKNOWN_PATIENT',
  UNKNOWN_REQUESTER: 'UNKNOWN_REQUESTER',
  REQUESTER_SUSPENDED: 'REQUESTER_SUSPENDED',
  /** Break-glass asked for, but the requester has no open, unexpired emergency access to this patient. */
  NO_EMERGENCY_ACCESS: 'NO_EMERGENCY_ACCESS',
  /** Research use asked for but the patient has not opted in (researchConsent). */
  NO_RESEARCH_CONSENT: 'NO_RESEARCH_CONSENT',
  /** No grant to the requester (or their organisation) at all. */
  NO_GRANT: 'NO_GRANT',
  /** Grants exist but all have expired. */
  GRANT_EXPIRED: 'GRANT_EXPIRED',
  /** Unexpired grants exist but none for this purpose. */
  PURPOSE_NOT_GRANTED: 'PURPOSE_NOT_GRANTED',
  /** Unexpired grants for this purpose exist but none covers the category. */
  SCOPE_NOT_GRANTED: 'SCOPE_NOT_GRANTED',
  /** Only the patient and guardians see consents and the audit trail. */
  PATIENT_ONLY: 'PATIENT_ONLY',
} as const;
export type DenyCode = (typeof DenyCode)[keyof typeof DenyCode];

export type AccessBasis =
  | { via: 'self' }
  | { via: 'guardian' }
  | { via: 'grant'; grantId: Uint8Array; expiresAt: number }
  | { via: 'emergency'; accessId: Uint8Array; expiresAt: number };

export type AccessDecision = ({ allowed: true } & AccessBasis) | { allowed: false; code: DenyCode };

export function isActive(actor: ActorRecord | undefined): actor is ActorRecord {
  return actor !== undefined && actor.status === ActorStatus.active;
}

export function isGuardian(p: PatientRecord, key: Uint8Array): boolean {
  return p.guardians.some((g) => bytesEqual(g, key));
}

/** Whether a grant names this requester, directly or through their organisation (clinicians only). */
export function grantNames(g: GrantRecord, requester: Uint8Array, actor: ActorRecord | undefined): boolean {
  if (g.granteeKind === 1) return bytesEqual(g.grantee as Uint8Array, requester);
  return actor !== undefined && actor.role === Role.clinician && g.grantee === actor.orgId;
}

export function liveGrants(grants: GrantRecord[], now: number): GrantRecord[] {
  return grants.filter((g) => g.expiresAt > now);
}

export function liveEmergencies(es: EmergencyRecord[], now: number): EmergencyRecord[] {
  return es.filter((e) => e.expiresAt > now);
}

/** Whether the patient themself or one of their guardians is `key`. */
export async function patientOrGuardian(state: StateGet, patient: Uint8Array, key: Uint8Array) {
  const p = await readRecord(state, Keys.patient(patient), Codec.patient);
  if (!p) return { patient: undefined, as: undefined } as const;
  if (bytesEqual(patient, key)) return { patient: p, as: 'self' } as const;
  if (isGuardian(p, key)) return { patient: p, as: 'guardian' } as const;
  return { patient: p, as: undefined } as const;
}

/**
 * May `requester` access `category` of `patient`'s data for `purpose` at time `now`?
 * Rules (docs/state-machine.md, "Access rule"): the patient and their guardians always; otherwise an
 * active clinician or researcher through an unexpired grant naming them (or, for clinicians, their
 * organisation) with this purpose and a scope covering the category; for purpose emergency, an active
 * clinician's own open break-glass access covers every category; research additionally needs the
 * patient's research opt-in.
 */
export async function decideAccess(
  state: StateGet,
  requester: Uint8Array,
  patient: Uint8Array,
  category: string,
  purpose: number,
  now: number,
): Promise<AccessDecision> {
  const pg = await patientOrGuardian(state, patient, requester);
  if (!pg.patient) return { allowed: false, code: DenyCode.UNKNOWN_PATIENT };
  if (pg.as) return { allowed: true, via: pg.as };
  const actor = await readRecord(state, Keys.actor(requester), Codec.actor);
  if (!actor || actor.role === Role.orgAdmin) return { allowed: false, code: DenyCode.UNKNOWN_REQUESTER };
  if (!isActive(actor)) return { allowed: false, code: DenyCode.REQUESTER_SUSPENDED };
  if (purpose === Purpose.emergency && actor.role === Role.clinician) {
    const es = (await readRecord(state, Keys.emergencies(patient), Codec.emergencies)) ?? [];
    const mine = liveEmergencies(es, now).find((e) => bytesEqual(e.clinician, requester));
    if (mine) return { allowed: true, via: 'emergency', accessId: mine.accessId, expiresAt: mine.expiresAt };
  }
  if (purpose === Purpose.research && !pg.patient.researchOptIn) {
    return { allowed: false, code: DenyCode.NO_RESEARCH_CONSENT };
  }
  const grants = ((await readRecord(state, Keys.grants(patient), Codec.grants)) ?? []).filter((g) =>
    grantNames(g, requester, actor),
  );
  if (grants.length === 0) {
    return {
      allowed: false,
      code: purpose === Purpose.emergency ? DenyCode.NO_EMERGENCY_ACCESS : DenyCode.NO_GRANT,
    };
  }
  const live = liveGrants(grants, now);
  if (live.length === 0) return { allowed: false, code: DenyCode.GRANT_EXPIRED };
  const forPurpose = live.filter((g) => g.purpose === purpose);
  if (forPurpose.length === 0) {
    const code = purpose === Purpose.emergency ? DenyCode.NO_EMERGENCY_ACCESS : DenyCode.PURPOSE_NOT_GRANTED;
    return { allowed: false, code };
  }
  const covering = forPurpose.filter((g) => scopesCover(g.scopes, category));
  if (covering.length === 0) return { allowed: false, code: DenyCode.SCOPE_NOT_GRANTED };
  // The longest-lived covering grant, so the caller can tell how long the access lasts.
  const best = covering.reduce((x, y) => (y.expiresAt > x.expiresAt ? y : x));
  return { allowed: true, via: 'grant', grantId: best.grantId, expiresAt: best.expiresAt };
}
