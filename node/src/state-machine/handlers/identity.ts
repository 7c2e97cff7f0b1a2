// enrolClinician, enrolResearcher, suspendActor, reinstateActor, registerPatient, appointGuardian,
// removeGuardian, researchConsent (docs/state-machine.md rule table).

import { bytesEqual } from '@vigil/consensus/wire';
import type { BodyOf } from '@vigil/consensus/wire/bodies/index.ts';
import { isActive } from '../access.ts';
import { RejectCode } from '../codes.ts';
import { Keys } from '../keys.ts';
import { LIMITS } from '../params.ts';
import { ActorStatus, Codec, Role, readRecord, writeRecord } from '../records.ts';
import {
  AuditEvent,
  activeActor,
  audit,
  type HandlerEnv,
  indexGuardians,
  keyInUse,
  reject,
  requirePatient,
  requirePatientOrGuardian,
} from './common.ts';

async function enrol(env: HandlerEnv, publicKey: Uint8Array, role: Role, credential: string) {
  const admin = await activeActor(env, Role.orgAdmin, RejectCode.NOT_ORG_ADMIN);
  if (await keyInUse(env, publicKey)) reject(RejectCode.KEY_IN_USE);
  writeRecord(env.ctx.state, Keys.actor(publicKey), Codec.actor, {
    role,
    orgId: admin.orgId,
    status: ActorStatus.active,
    credential,
    since: env.ctx.blockTime,
    enrolledBy: env.sender,
  });
}

export async function enrolClinician(env: HandlerEnv, b: BodyOf<10>) {
  await enrol(env, b.publicKey, Role.clinician, b.licenceId);
}

export async function enrolResearcher(env: HandlerEnv, b: BodyOf<11>) {
  await enrol(env, b.publicKey, Role.researcher, b.studyId);
}

/** An admin may suspend or reinstate any actor of their own organisation except themself. */
async function targetOfOwnOrg(env: HandlerEnv, publicKey: Uint8Array) {
  const admin = await activeActor(env, Role.orgAdmin, RejectCode.NOT_ORG_ADMIN);
  if (bytesEqual(publicKey, env.sender)) reject(RejectCode.SELF_SUSPEND);
  const target = await readRecord(env.ctx.state, Keys.actor(publicKey), Codec.actor);
  if (!target) reject(RejectCode.UNKNOWN_ACTOR);
  if (target.orgId !== admin.orgId) reject(RejectCode.WRONG_ORG);
  return target;
}

export async function suspendActor(env: HandlerEnv, b: BodyOf<12>) {
  const target = await targetOfOwnOrg(env, b.publicKey);
  if (!isActive(target)) reject(RejectCode.ALREADY_SUSPENDED);
  writeRecord(env.ctx.state, Keys.actor(b.publicKey), Codec.actor, {
    ...target,
    status: ActorStatus.suspended,
  });
}

export async function reinstateActor(env: HandlerEnv, b: BodyOf<13>) {
  const target = await targetOfOwnOrg(env, b.publicKey);
  if (target.status === ActorStatus.active) reject(RejectCode.NOT_SUSPENDED);
  writeRecord(env.ctx.state, Keys.actor(b.publicKey), Codec.actor, { ...target, status: ActorStatus.active });
}

/** Self-registration (sender = patient key) or by an active admin or clinician for their organisation. */
export async function registerPatient(env: HandlerEnv, b: BodyOf<20>) {
  let registeredBy: string | null = null;
  if (!bytesEqual(b.patient, env.sender)) {
    const actor = await readRecord(env.ctx.state, Keys.actor(env.sender), Codec.actor);
    if (!actor || (actor.role !== Role.orgAdmin && actor.role !== Role.clinician))
      reject(RejectCode.NOT_PATIENT);
    if (!isActive(actor)) reject(RejectCode.SENDER_SUSPENDED);
    registeredBy = actor.orgId;
  }
  if (await readRecord(env.ctx.state, Keys.patient(b.patient), Codec.patient))
    reject(RejectCode.ALREADY_REGISTERED);
  if (await keyInUse(env, b.patient)) reject(RejectCode.KEY_IN_USE);
  writeRecord(env.ctx.state, Keys.patient(b.patient), Codec.patient, {
    registeredBy,
    since: env.ctx.blockTime,
    guardians: [],
    researchOptIn: false,
  });
}

/** Only the patient appoints guardians: a guardian holds the patient's authority, so cannot extend it. */
export async function appointGuardian(env: HandlerEnv, b: BodyOf<21>) {
  const p = await requirePatient(env, b.patient);
  if (!bytesEqual(b.patient, env.sender)) reject(RejectCode.NOT_PATIENT);
  if (bytesEqual(b.guardian, b.patient) || (await env.ctx.state.get(Keys.device(b.guardian))) !== undefined) {
    reject(RejectCode.INVALID_GUARDIAN);
  }
  if (p.guardians.some((g) => bytesEqual(g, b.guardian))) reject(RejectCode.ALREADY_GUARDIAN);
  if (p.guardians.length >= LIMITS.maxGuardians) reject(RejectCode.TOO_MANY_GUARDIANS);
  const guardians = [...p.guardians, b.guardian];
  writeRecord(env.ctx.state, Keys.patient(b.patient), Codec.patient, { ...p, guardians });
  indexGuardians(env, b.patient, p.guardians, guardians);
  audit(env, b.patient, 0, {
    event: AuditEvent.guardianAppointed,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: b.guardian,
  });
}

/** The patient removes a guardian, or a guardian steps down. */
export async function removeGuardian(env: HandlerEnv, b: BodyOf<22>) {
  const p = await requirePatient(env, b.patient);
  if (!bytesEqual(b.patient, env.sender) && !bytesEqual(b.guardian, env.sender))
    reject(RejectCode.NOT_PATIENT);
  if (!p.guardians.some((g) => bytesEqual(g, b.guardian))) reject(RejectCode.NOT_GUARDIAN);
  const guardians = p.guardians.filter((g) => !bytesEqual(g, b.guardian));
  writeRecord(env.ctx.state, Keys.patient(b.patient), Codec.patient, { ...p, guardians });
  indexGuardians(env, b.patient, p.guardians, guardians);
  audit(env, b.patient, 0, {
    event: AuditEvent.guardianRemoved,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: b.guardian,
  });
}

export async function researchConsent(env: HandlerEnv, b: BodyOf<44>) {
  const p = await requirePatientOrGuardian(env, b.patient);
  if (p.researchOptIn === b.optIn) reject(RejectCode.NO_CHANGE);
  writeRecord(env.ctx.state, Keys.patient(b.patient), Codec.patient, { ...p, researchOptIn: b.optIn });
  audit(env, b.patient, 0, {
    event: AuditEvent.researchConsent,
    actor: env.sender,
    categories: [],
    purpose: 2,
    detail: b.optIn,
  });
}
