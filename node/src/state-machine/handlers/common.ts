// Helpers shared by the handlers: sender checks that reject with a stable code, and audit-trail writes.

import type { CborValue } from '@vigil/consensus/wire';
import { Purpose } from '@vigil/consensus/wire/bodies/index.ts';
import type { ExecContext } from '../../exec/types.ts';
import { TxRejected } from '../../exec/errors.ts';
import { decideAccess, isActive, patientOrGuardian } from '../access.ts';
import { RejectCode } from '../codes.ts';
import { accessEntryValue, emergencyEntry, grantEntry, guardianEntry } from '../access-index.ts';
import { IndexKeys, Keys } from '../keys.ts';
import type { Params } from '../params.ts';
import {
  type ActorRecord,
  Codec,
  type EmergencyRecord,
  encodeIndexValue,
  type GrantRecord,
  type PatientRecord,
  Role,
  readRecord,
} from '../records.ts';

export interface HandlerEnv {
  ctx: ExecContext;
  sender: Uint8Array;
  params: Params;
}

export function reject(code: RejectCode, message?: string): never {
  throw new TxRejected(code, message);
}

export async function activeActor(env: HandlerEnv, role: Role, notCode: RejectCode): Promise<ActorRecord> {
  const actor = await readRecord(env.ctx.state, Keys.actor(env.sender), Codec.actor);
  if (!actor || actor.role !== role) reject(notCode);
  if (!isActive(actor)) reject(RejectCode.SENDER_SUSPENDED);
  return actor;
}

export async function requirePatient(env: HandlerEnv, patient: Uint8Array): Promise<PatientRecord> {
  const p = await readRecord(env.ctx.state, Keys.patient(patient), Codec.patient);
  if (!p) reject(RejectCode.UNKNOWN_PATIENT);
  return p;
}

/** The sender must be the patient or one of their guardians (who act with the patient's authority). */
export async function requirePatientOrGuardian(env: HandlerEnv, patient: Uint8Array): Promise<PatientRecord> {
  const pg = await patientOrGuardian(env.ctx.state, patient, env.sender);
  if (!pg.patient) reject(RejectCode.UNKNOWN_PATIENT);
  if (!pg.as) reject(RejectCode.NOT_PATIENT_OR_GUARDIAN);
  return pg.patient;
}

/**
 * The sender must be an active clinician with treatment or emergency access to every category at the
 * block time (the same rule the query layer applies to reads). Returns the purpose the write is made
 * under, for its audit entry: emergency (3) when any category was open only through the sender's
 * break-glass access, else treatment (1). Break-glass is always audited as such: the patient must be
 * able to tell a write under an emergency override from one their consent allowed.
 */
export async function requireClinicianAccess(
  env: HandlerEnv,
  patient: Uint8Array,
  categories: string[],
): Promise<typeof Purpose.treatment | typeof Purpose.emergency> {
  await activeActor(env, Role.clinician, RejectCode.NOT_CLINICIAN);
  await requirePatient(env, patient);
  let basis: typeof Purpose.treatment | typeof Purpose.emergency = Purpose.treatment;
  for (const category of categories) {
    let ok = false;
    // Treatment first: break-glass counts only where consent does not already cover the write.
    for (const purpose of [Purpose.treatment, Purpose.emergency] as const) {
      const d = await decideAccess(env.ctx.state, env.sender, patient, category, purpose, env.ctx.blockTime);
      if (d.allowed) {
        ok = true;
        if (purpose === Purpose.emergency) basis = Purpose.emergency;
        break;
      }
    }
    if (!ok) reject(RejectCode.NO_ACCESS, `no treatment or emergency access to ${category}`);
  }
  return basis;
}

export const AuditEvent = {
  read: 'read',
  grant: 'grant',
  revoke: 'revoke',
  emergencyOpened: 'emergencyOpened',
  emergencyClosed: 'emergencyClosed',
  observation: 'observation',
  alertPolicy: 'alertPolicy',
  alertAcknowledged: 'alertAcknowledged',
  researchConsent: 'researchConsent',
  guardianAppointed: 'guardianAppointed',
  guardianRemoved: 'guardianRemoved',
  deviceBound: 'deviceBound',
  deviceRotated: 'deviceRotated',
  deviceSuspended: 'deviceSuspended',
  deviceRevoked: 'deviceRevoked',
} as const;
export type AuditEvent = (typeof AuditEvent)[keyof typeof AuditEvent];

export interface AuditEntry {
  event: AuditEvent;
  actor: Uint8Array;
  categories: string[];
  purpose: number | null;
  at: number;
  detail: CborValue;
}

/**
 * Appends to the patient's audit trail (index: derived from the block, so it is as tamper-evident as the
 * chain itself; ordered by height, position in block, then `sub` within the transaction).
 */
export function audit(
  env: HandlerEnv,
  patient: Uint8Array,
  sub: number,
  e: Omit<AuditEntry, 'at'> & { at?: number },
) {
  const { ctx } = env;
  ctx.index.put(
    IndexKeys.audit(patient, ctx.height, ctx.position, sub),
    encodeIndexValue([e.event, e.actor, e.categories, e.purpose, e.at ?? ctx.blockTime, ctx.txId, e.detail]),
  );
}

/** A key is used once, for one thing: an actor, a patient or a device (never re-bound after revocation). */
export async function keyInUse(env: HandlerEnv, key: Uint8Array): Promise<boolean> {
  const s = env.ctx.state;
  return (
    (await s.get(Keys.actor(key))) !== undefined ||
    (await s.get(Keys.patient(key))) !== undefined ||
    (await s.get(Keys.device(key))) !== undefined
  );
}

/**
 * Keeps the access index (ADR 0130, access-index.ts) in step with one of a patient's records of who may
 * read them: the entries of what left the record are deleted, those of what joined it put. Every handler
 * that writes a patient's grants, break-glass accesses or guardians calls this with the record before and
 * after, so the index changes in the block's batch, with the state it mirrors.
 */
function syncAccessIndex(ctx: ExecContext, before: Uint8Array[], after: Uint8Array[]): void {
  const hex = (k: Uint8Array) => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex');
  const kept = new Set(after.map(hex));
  const had = new Set(before.map(hex));
  for (const k of before) if (!kept.has(hex(k))) ctx.index.del(k);
  for (const k of after) if (!had.has(hex(k))) ctx.index.put(k, accessEntryValue());
}

/** The patient's grants went from `before` to `after` (expired ones pruned, one added or revoked). */
export function indexGrants(
  env: HandlerEnv,
  patient: Uint8Array,
  before: GrantRecord[],
  after: GrantRecord[],
) {
  const entry = (g: GrantRecord) => grantEntry(patient, g);
  syncAccessIndex(env.ctx, before.map(entry), after.map(entry));
}

/** The patient's break-glass accesses went from `before` to `after`. */
export function indexEmergencies(
  env: HandlerEnv,
  patient: Uint8Array,
  before: EmergencyRecord[],
  after: EmergencyRecord[],
) {
  const entry = (e: EmergencyRecord) => emergencyEntry(patient, e);
  syncAccessIndex(env.ctx, before.map(entry), after.map(entry));
}

/** The patient's guardians went from `before` to `after`. */
export function indexGuardians(
  env: HandlerEnv,
  patient: Uint8Array,
  before: Uint8Array[],
  after: Uint8Array[],
) {
  const entry = (g: Uint8Array) => guardianEntry(patient, g);
  syncAccessIndex(env.ctx, before.map(entry), after.map(entry));
}
