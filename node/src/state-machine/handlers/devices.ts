// bindDevice, rotateDeviceKey, suspendDevice, revokeDevice. A device is controlled by its patient, the
// patient's guardians and any active organisation admin (hospital biomedical engineering binds and
// retires ward devices); a device may also rotate its own key.

import { bytesEqual } from '@vigil/consensus/wire';
import type { BodyOf } from '@vigil/consensus/wire/bodies/index.ts';
import { isActive, isGuardian, patientOrGuardian } from '../access.ts';
import { RejectCode } from '../codes.ts';
import { Keys } from '../keys.ts';
import {
  Codec,
  type DeviceRecord,
  DeviceStatus,
  type PatientRecord,
  Role,
  readRecord,
  writeRecord,
} from '../records.ts';
import { AuditEvent, audit, type HandlerEnv, keyInUse, reject } from './common.ts';

async function requireController(env: HandlerEnv, patient: Uint8Array): Promise<PatientRecord> {
  const pg = await patientOrGuardian(env.ctx.state, patient, env.sender);
  if (!pg.patient) reject(RejectCode.UNKNOWN_PATIENT);
  if (pg.as) return pg.patient;
  const actor = await readRecord(env.ctx.state, Keys.actor(env.sender), Codec.actor);
  if (!actor || actor.role !== Role.orgAdmin) reject(RejectCode.NOT_DEVICE_CONTROLLER);
  if (!isActive(actor)) reject(RejectCode.SENDER_SUSPENDED);
  return pg.patient;
}

/**
 * A key about to become one of the patient's device keys must not be in use (keyInUse) nor be one of the
 * patient's guardians: guardianship is for any key but the patient's own or a device's (appointGuardian
 * refuses a device key), and a device key that is also a guardian would hold the patient's authority.
 * Guardians of other patients are not checked: guardianships live in the patients' records, and a
 * handler cannot scan them (no reverse index).
 */
async function deviceKeyInUse(env: HandlerEnv, key: Uint8Array, patient: PatientRecord): Promise<boolean> {
  return isGuardian(patient, key) || (await keyInUse(env, key));
}

async function requireDevice(env: HandlerEnv, device: Uint8Array): Promise<DeviceRecord> {
  const d = await readRecord(env.ctx.state, Keys.device(device), Codec.device);
  if (!d) reject(RejectCode.UNKNOWN_DEVICE);
  return d;
}

export async function bindDevice(env: HandlerEnv, b: BodyOf<30>) {
  const p = await requireController(env, b.patient);
  if (await deviceKeyInUse(env, b.device, p)) reject(RejectCode.KEY_IN_USE);
  const now = env.ctx.blockTime;
  if (
    b.validUntil <= b.validFrom ||
    b.validUntil <= now ||
    b.validUntil - b.validFrom > env.params.maxDeviceValidityMs
  ) {
    reject(RejectCode.BAD_VALIDITY);
  }
  writeRecord(env.ctx.state, Keys.device(b.device), Codec.device, {
    patient: b.patient,
    deviceId: b.device,
    status: DeviceStatus.active,
    validFrom: b.validFrom,
    validUntil: b.validUntil,
    retiresAt: null,
    successor: null,
    boundBy: env.sender,
  });
  audit(env, b.patient, 0, {
    event: AuditEvent.deviceBound,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: b.device,
  });
}

/**
 * The new key takes over the binding (same patient, validity and device id, so the per-device reading
 * order carries over); the old key is still accepted until `blockTime + overlapMs`, so readings signed
 * and buffered before the rotation still land.
 */
export async function rotateDeviceKey(env: HandlerEnv, b: BodyOf<31>) {
  const d = await requireDevice(env, b.device);
  if (!bytesEqual(env.sender, b.device)) await requireController(env, d.patient);
  if (d.status === DeviceStatus.revoked) reject(RejectCode.DEVICE_REVOKED);
  if (d.successor !== null) reject(RejectCode.ALREADY_ROTATED);
  if (b.overlapMs > env.params.maxRotationOverlapMs) reject(RejectCode.OVERLAP_TOO_LONG);
  const p = await readRecord(env.ctx.state, Keys.patient(d.patient), Codec.patient);
  if (!p) reject(RejectCode.UNKNOWN_PATIENT);
  if (await deviceKeyInUse(env, b.newKey, p)) reject(RejectCode.KEY_IN_USE);
  const now = env.ctx.blockTime;
  writeRecord(env.ctx.state, Keys.device(b.device), Codec.device, {
    ...d,
    retiresAt: now + b.overlapMs,
    successor: b.newKey,
  });
  writeRecord(env.ctx.state, Keys.device(b.newKey), Codec.device, {
    ...d,
    retiresAt: null,
    successor: null,
    boundBy: env.sender,
  });
  audit(env, d.patient, 0, {
    event: AuditEvent.deviceRotated,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: [b.device, b.newKey],
  });
}

/**
 * Every key of the physical device `deviceId`, oldest first: the original binding (its key is the
 * device id), then each rotation successor. A rotated key stays usable until its `retiresAt`, so a
 * predecessor still inside its overlap is as much the device as the current key: suspension and
 * revocation must reach all of them, whichever key the controller names. Linear in the device's
 * rotations (each a transaction of the device or a controller); no key recurs (keyInUse).
 */
async function deviceKeys(env: HandlerEnv, deviceId: Uint8Array): Promise<[Uint8Array, DeviceRecord][]> {
  const out: [Uint8Array, DeviceRecord][] = [];
  let key: Uint8Array | null = deviceId;
  while (key) {
    const rec: DeviceRecord | undefined = await readRecord(env.ctx.state, Keys.device(key), Codec.device);
    if (!rec) break;
    out.push([key, rec]);
    key = rec.successor;
  }
  return out;
}

/**
 * Suspends (suspended = true) or resumes (false) a device: every key of it, so a predecessor still in its
 * rotation overlap cannot keep sending while the current key is suspended (nor stay suspended when it is
 * resumed). A revoked device stays revoked.
 */
export async function suspendDevice(env: HandlerEnv, b: BodyOf<32>) {
  const d = await requireDevice(env, b.device);
  await requireController(env, d.patient);
  if (d.status === DeviceStatus.revoked) reject(RejectCode.DEVICE_REVOKED);
  const status = b.suspended ? DeviceStatus.suspended : DeviceStatus.active;
  if (d.status === status) reject(RejectCode.NO_CHANGE);
  for (const [key, rec] of await deviceKeys(env, d.deviceId)) {
    if (rec.status === DeviceStatus.revoked || rec.status === status) continue;
    writeRecord(env.ctx.state, Keys.device(key), Codec.device, { ...rec, status });
  }
  audit(env, d.patient, 0, {
    event: AuditEvent.deviceSuspended,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: [b.device, b.suspended],
  });
}

/**
 * Permanent, and for every key of the device: its rotation successors and its predecessors still in
 * their overlap, so a stolen device cannot live on under any of its keys.
 */
export async function revokeDevice(env: HandlerEnv, b: BodyOf<33>) {
  const d = await requireDevice(env, b.device);
  await requireController(env, d.patient);
  if (d.status === DeviceStatus.revoked) reject(RejectCode.DEVICE_REVOKED);
  for (const [key, rec] of await deviceKeys(env, d.deviceId)) {
    if (rec.status === DeviceStatus.revoked) continue;
    writeRecord(env.ctx.state, Keys.device(key), Codec.device, { ...rec, status: DeviceStatus.revoked });
  }
  audit(env, d.patient, 0, {
    event: AuditEvent.deviceRevoked,
    actor: env.sender,
    categories: [],
    purpose: null,
    detail: b.device,
  });
}
