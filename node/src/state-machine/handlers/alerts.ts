// setAlertPolicy and acknowledgeAlert: clinical acts, so only an active clinician with treatment or
// emergency access to the patient's `alerts` category.

import { ALERTS_CATEGORY, type BodyOf } from '@vigil/consensus/wire/bodies/index.ts';
import { readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import { RejectCode } from '../codes.ts';
import { Keys } from '../keys.ts';
import { AlertStatus, Codec, readRecord, writeRecord } from '../records.ts';
import { AuditEvent, audit, type HandlerEnv, reject, requireClinicianAccess } from './common.ts';

export async function setAlertPolicy(env: HandlerEnv, b: BodyOf<60>) {
  const purpose = await requireClinicianAccess(env, b.patient, [ALERTS_CATEGORY]);
  for (const t of b.thresholds) {
    const spec = readingKindSpec(t.kind);
    // A threshold outside the plausible range could never fire (or always would): refuse it.
    if (!spec || t.low < spec.min || t.high > spec.max) reject(RejectCode.BAD_THRESHOLD, `kind ${t.kind}`);
  }
  writeRecord(env.ctx.state, Keys.policy(b.patient), Codec.policy, {
    thresholds: [...b.thresholds].sort((x, y) => x.kind - y.kind),
    spo2Scale2: b.spo2Scale2,
    setBy: env.sender,
    setAt: env.ctx.blockTime,
  });
  audit(env, b.patient, 0, {
    event: AuditEvent.alertPolicy,
    actor: env.sender,
    categories: [ALERTS_CATEGORY],
    purpose,
    detail: b.spo2Scale2,
  });
}

export async function acknowledgeAlert(env: HandlerEnv, b: BodyOf<61>) {
  const purpose = await requireClinicianAccess(env, b.patient, [ALERTS_CATEGORY]);
  const key = Keys.alert(b.patient, b.alertSeq);
  const alert = await readRecord(env.ctx.state, key, Codec.alert);
  if (!alert) reject(RejectCode.UNKNOWN_ALERT);
  if (alert.status !== AlertStatus.open) reject(RejectCode.ALERT_ALREADY_ACKNOWLEDGED);
  writeRecord(env.ctx.state, key, Codec.alert, {
    ...alert,
    status: AlertStatus.acknowledged,
    ackBy: env.sender,
    ackAt: env.ctx.blockTime,
  });
  const openKey = Keys.openAlert(b.patient, alert.cause);
  if ((await readRecord(env.ctx.state, openKey, Codec.number)) === b.alertSeq) env.ctx.state.del(openKey);
  audit(env, b.patient, 0, {
    event: AuditEvent.alertAcknowledged,
    actor: env.sender,
    categories: [ALERTS_CATEGORY],
    purpose,
    detail: b.alertSeq,
  });
  env.ctx.emit({ kind: 'alertAcknowledged', data: [b.patient, b.alertSeq, env.sender, env.ctx.blockTime] });
}
