// grantAccess, revokeAccess, emergencyAccess, closeEmergencyAccess, recordAccess.
// Only the patient or a guardian (who holds the patient's authority) grants; grantees cannot re-grant,
// so nobody ends up with more than the patient gave (docs/state-machine.md, "Access rule").

import { bytesEqual } from '@vigil/consensus/wire';
import { type BodyOf, Purpose } from '@vigil/consensus/wire/bodies/index.ts';
import { isActive, liveEmergencies, liveGrants } from '../access.ts';
import { RejectCode } from '../codes.ts';
import { Keys } from '../keys.ts';
import { LIMITS } from '../params.ts';
import { Codec, Role, readRecord, writeRecord } from '../records.ts';
import { activeValidators } from './governance.ts';
import {
  AuditEvent,
  activeActor,
  audit,
  type HandlerEnv,
  indexEmergencies,
  indexGrants,
  reject,
  requirePatient,
  requirePatientOrGuardian,
} from './common.ts';

export async function grantAccess(env: HandlerEnv, b: BodyOf<40>) {
  await requirePatientOrGuardian(env, b.patient);
  const s = env.ctx.state;
  const now = env.ctx.blockTime;
  if (b.grantee.kind === 1) {
    const g = await readRecord(s, Keys.actor(b.grantee.key), Codec.actor);
    // Grants go to people who answer for their use: enrolled clinicians, or researchers for research.
    const fits =
      g !== undefined &&
      (g.role === Role.clinician || (g.role === Role.researcher && b.purpose === Purpose.research));
    if (!fits || !isActive(g)) reject(RejectCode.BAD_GRANTEE);
  } else if (!(await readRecord(s, Keys.org(b.grantee.orgId), Codec.org))) {
    reject(RejectCode.UNKNOWN_ORG);
  }
  if (b.expiresAt <= now || b.expiresAt - now > env.params.maxGrantMs) reject(RejectCode.BAD_EXPIRY);
  const stored = (await readRecord(s, Keys.grants(b.patient), Codec.grants)) ?? [];
  const grants = liveGrants(stored, now);
  if (grants.length >= LIMITS.maxGrantsPerPatient) reject(RejectCode.TOO_MANY_GRANTS);
  grants.push({
    grantId: env.ctx.txId,
    granteeKind: b.grantee.kind,
    grantee: b.grantee.kind === 1 ? b.grantee.key : b.grantee.orgId,
    scopes: b.scopes,
    purpose: b.purpose,
    expiresAt: b.expiresAt,
    grantedBy: env.sender,
    grantedAt: now,
  });
  writeRecord(s, Keys.grants(b.patient), Codec.grants, grants);
  indexGrants(env, b.patient, stored, grants);
  audit(env, b.patient, 0, {
    event: AuditEvent.grant,
    actor: env.sender,
    categories: b.scopes,
    purpose: b.purpose,
    detail: [env.ctx.txId, b.grantee.kind === 1 ? b.grantee.key : b.grantee.orgId, b.expiresAt],
  });
  env.ctx.emit({ kind: 'accessGranted', data: [b.patient, env.ctx.txId, b.expiresAt] });
}

export async function revokeAccess(env: HandlerEnv, b: BodyOf<41>) {
  await requirePatientOrGuardian(env, b.patient);
  const s = env.ctx.state;
  const stored = (await readRecord(s, Keys.grants(b.patient), Codec.grants)) ?? [];
  const grants = liveGrants(stored, env.ctx.blockTime);
  const i = grants.findIndex((g) => bytesEqual(g.grantId, b.grantId));
  if (i < 0) reject(RejectCode.UNKNOWN_GRANT);
  const [revoked] = grants.splice(i, 1);
  writeRecord(s, Keys.grants(b.patient), Codec.grants, grants);
  indexGrants(env, b.patient, stored, grants);
  audit(env, b.patient, 0, {
    event: AuditEvent.revoke,
    actor: env.sender,
    categories: revoked!.scopes,
    purpose: revoked!.purpose,
    detail: b.grantId,
  });
  env.ctx.emit({ kind: 'accessRevoked', data: [b.patient, b.grantId] });
}

/**
 * Break-glass: any active clinician, always allowed (the patient may be unable to consent), but bounded
 * in time, recorded in the patient's audit trail and emitted so the patient is told.
 */
export async function emergencyAccess(env: HandlerEnv, b: BodyOf<42>) {
  await activeActor(env, Role.clinician, RejectCode.NOT_CLINICIAN);
  await requirePatient(env, b.patient);
  if (b.durationMs > env.params.maxEmergencyMs) reject(RejectCode.EMERGENCY_TOO_LONG);
  const now = env.ctx.blockTime;
  const stored = (await readRecord(env.ctx.state, Keys.emergencies(b.patient), Codec.emergencies)) ?? [];
  const es = liveEmergencies(stored, now);
  if (es.some((e) => bytesEqual(e.clinician, env.sender))) reject(RejectCode.EMERGENCY_ALREADY_OPEN);
  if (es.length >= LIMITS.maxEmergenciesPerPatient) reject(RejectCode.TOO_MANY_EMERGENCIES);
  const expiresAt = now + b.durationMs;
  es.push({
    accessId: env.ctx.txId,
    clinician: env.sender,
    reasonCode: b.reasonCode,
    reason: b.reason,
    openedAt: now,
    expiresAt,
  });
  writeRecord(env.ctx.state, Keys.emergencies(b.patient), Codec.emergencies, es);
  indexEmergencies(env, b.patient, stored, es);
  audit(env, b.patient, 0, {
    event: AuditEvent.emergencyOpened,
    actor: env.sender,
    categories: ['*'],
    purpose: Purpose.emergency,
    detail: [env.ctx.txId, b.reasonCode, b.reason, expiresAt],
  });
  env.ctx.emit({
    kind: 'emergencyAccessOpened',
    data: [b.patient, env.sender, env.ctx.txId, b.reasonCode, expiresAt],
  });
}

/** Closed by the clinician who opened it, or by the patient or a guardian. */
export async function closeEmergencyAccess(env: HandlerEnv, b: BodyOf<43>) {
  await requirePatient(env, b.patient);
  const now = env.ctx.blockTime;
  const stored = (await readRecord(env.ctx.state, Keys.emergencies(b.patient), Codec.emergencies)) ?? [];
  const es = liveEmergencies(stored, now);
  const i = es.findIndex((e) => bytesEqual(e.accessId, b.accessId));
  if (i < 0) reject(RejectCode.UNKNOWN_EMERGENCY);
  if (!bytesEqual(es[i]!.clinician, env.sender)) await requirePatientOrGuardian(env, b.patient);
  es.splice(i, 1);
  writeRecord(env.ctx.state, Keys.emergencies(b.patient), Codec.emergencies, es);
  indexEmergencies(env, b.patient, stored, es);
  audit(env, b.patient, 0, {
    event: AuditEvent.emergencyClosed,
    actor: env.sender,
    categories: ['*'],
    purpose: Purpose.emergency,
    detail: b.accessId,
  });
  env.ctx.emit({ kind: 'emergencyAccessClosed', data: [b.patient, b.accessId] });
}

/**
 * A validator node records that it served a read (the API calls this after every query), so reads are
 * in the audit trail on chain. Only a validator active at this height may sign it.
 */
export async function recordAccess(env: HandlerEnv, b: BodyOf<52>) {
  const vs = (await readRecord(env.ctx.state, Keys.validators(), Codec.validators)) ?? [];
  if (!activeValidators(vs, env.ctx.height).some((v) => bytesEqual(v.publicKey, env.sender))) {
    reject(RejectCode.NOT_VALIDATOR);
  }
  await requirePatient(env, b.patient);
  // A read is recorded soon after it is served: the same window as readings, so a node cannot back- or
  // future-date entries in the audit trail.
  const now = env.ctx.blockTime;
  if (b.readAt < now - env.params.readingMaxAgeMs || b.readAt > now + env.params.readingMaxFutureMs) {
    reject(RejectCode.BAD_READ_TIME);
  }
  audit(env, b.patient, 0, {
    event: AuditEvent.read,
    actor: b.reader,
    categories: b.categories,
    purpose: b.purpose,
    at: b.readAt,
    detail: env.sender,
  });
}
