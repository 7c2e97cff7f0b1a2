// submitReadings (device-signed) and recordObservation (clinician-signed), then the deterministic alert
// pass: per-reading thresholds and NEWS2 over the patient's latest values, at execution, so every node
// raises the same alerts at the same height.

import { bytesEqual, type CborValue } from '@vigil/consensus/wire';
import type { BodyOf, ReadingEntry } from '@vigil/consensus/wire/bodies/index.ts';
import {
  checkReading,
  computeNews2,
  DEFAULT_THRESHOLDS,
  NEWS2_PARAMETERS,
  type News2Inputs,
  READING_KINDS,
  RiskBand,
  readingKindSpec,
} from '@vigil/consensus/vitals/index.ts';
import { RejectCode } from '../codes.ts';
import { IndexKeys, Keys } from '../keys.ts';
import {
  AlertStatus,
  Codec,
  type DeviceRecord,
  DeviceStatus,
  encodeIndexValue,
  type LatestRecord,
  readRecord,
  writeRecord,
} from '../records.ts';
import { AuditEvent, audit, type HandlerEnv, reject, requireClinicianAccess } from './common.ts';

function checkEntries(env: HandlerEnv, readings: ReadingEntry[], deviceOnly: boolean) {
  const now = env.ctx.blockTime;
  const seen = new Set<string>();
  for (const r of readings) {
    const spec = readingKindSpec(r.kind);
    if (!spec || (deviceOnly && !spec.deviceReportable)) reject(RejectCode.READING_KIND_NOT_ALLOWED);
    const problem = checkReading(r.kind, r.value, r.unit);
    if (problem === 'wrongUnit') reject(RejectCode.READING_UNIT, `kind ${r.kind} is in ${spec.unit}`);
    if (problem) reject(RejectCode.READING_IMPLAUSIBLE, `kind ${r.kind} value ${r.value}`);
    if (r.measuredAt < now - env.params.readingMaxAgeMs) reject(RejectCode.READING_TOO_OLD);
    if (r.measuredAt > now + env.params.readingMaxFutureMs) reject(RejectCode.READING_IN_FUTURE);
    const id = `${r.kind}@${r.measuredAt}`;
    if (seen.has(id)) reject(RejectCode.READING_DUPLICATE);
    seen.add(id);
  }
}

async function requireUsableDevice(env: HandlerEnv, patient: Uint8Array): Promise<DeviceRecord> {
  const d = await readRecord(env.ctx.state, Keys.device(env.sender), Codec.device);
  const now = env.ctx.blockTime;
  if (!d) reject(RejectCode.UNKNOWN_DEVICE);
  if (d.status === DeviceStatus.revoked) reject(RejectCode.DEVICE_REVOKED);
  if (d.status === DeviceStatus.suspended) reject(RejectCode.DEVICE_SUSPENDED);
  if (now < d.validFrom || now >= d.validUntil) reject(RejectCode.DEVICE_NOT_VALID_NOW);
  if (d.retiresAt !== null && now >= d.retiresAt) reject(RejectCode.DEVICE_RETIRED);
  if (!bytesEqual(d.patient, patient)) reject(RejectCode.DEVICE_WRONG_PATIENT);
  return d;
}

export async function submitReadings(env: HandlerEnv, b: BodyOf<50>) {
  const d = await requireUsableDevice(env, b.patient);
  checkEntries(env, b.readings, true);
  // Measurement times strictly increase per physical device and kind (across key rotations): a replayed
  // or reordered reading cannot be slipped into the series.
  const seqKey = Keys.deviceSeq(d.deviceId);
  const last = (await readRecord(env.ctx.state, seqKey, Codec.numbers)) ?? READING_KINDS.map(() => 0);
  for (const r of b.readings) {
    if (r.measuredAt <= last[r.kind - 1]!) reject(RejectCode.READING_NOT_INCREASING);
    last[r.kind - 1] = r.measuredAt;
  }
  writeRecord(env.ctx.state, seqKey, Codec.numbers, last);
  await store(env, b.patient, b.readings);
}

export async function recordObservation(env: HandlerEnv, b: BodyOf<51>) {
  const categories = [...new Set(b.readings.map((r) => readingKindSpec(r.kind)?.name))].map((n) =>
    n === undefined ? reject(RejectCode.READING_KIND_NOT_ALLOWED) : `vitals.${n}`,
  );
  const purpose = await requireClinicianAccess(env, b.patient, categories);
  checkEntries(env, b.readings, false);
  for (const r of b.readings) {
    if (
      (await env.ctx.index.get(IndexKeys.reading(b.patient, r.kind, r.measuredAt, env.sender))) !== undefined
    ) {
      reject(RejectCode.READING_DUPLICATE);
    }
  }
  audit(env, b.patient, 0, {
    event: AuditEvent.observation,
    actor: env.sender,
    categories,
    purpose,
    detail: b.readings.length,
  });
  await store(env, b.patient, b.readings);
}

async function store(env: HandlerEnv, patient: Uint8Array, readings: ReadingEntry[]) {
  const { ctx } = env;
  const latest: LatestRecord =
    (await readRecord(ctx.state, Keys.latest(patient), Codec.latest)) ?? READING_KINDS.map(() => null);
  for (const r of readings) {
    ctx.index.put(
      IndexKeys.reading(patient, r.kind, r.measuredAt, env.sender),
      encodeIndexValue([r.value, r.unit, r.measuredAt, ctx.blockTime, ctx.height, env.sender, ctx.txId]),
    );
    const cur = latest[r.kind - 1];
    // Late store-and-forward data fills the series but never replaces a newer latest value.
    if (!cur || r.measuredAt > cur.measuredAt)
      latest[r.kind - 1] = { value: r.value, measuredAt: r.measuredAt };
  }
  writeRecord(ctx.state, Keys.latest(patient), Codec.latest, latest);
  await raiseAlerts(env, patient, readings, latest);
}

/**
 * Emits an alertRaised event and writes it to the alert index by height (ADR 0130), in the block's
 * batch: a subscriber whose stream was down is sent it again from there, across restarts of the node.
 * The value is the transaction id followed by the event's data.
 */
function raise(env: HandlerEnv, data: [Uint8Array, number, ...CborValue[]]): void {
  const { ctx } = env;
  ctx.emit({ kind: 'alertRaised', data });
  ctx.index.put(
    IndexKeys.raisedAlert(ctx.height, ctx.position, data[0], data[1]),
    encodeIndexValue([ctx.txId, ...data]),
  );
}

async function nextAlertSeq(env: HandlerEnv, patient: Uint8Array): Promise<number> {
  const seq = ((await readRecord(env.ctx.state, Keys.alertSeq(patient), Codec.number)) ?? 0) + 1;
  writeRecord(env.ctx.state, Keys.alertSeq(patient), Codec.number, seq);
  return seq;
}

async function raiseAlerts(
  env: HandlerEnv,
  patient: Uint8Array,
  readings: ReadingEntry[],
  latest: LatestRecord,
) {
  const { ctx } = env;
  const policy = await readRecord(ctx.state, Keys.policy(patient), Codec.policy);
  const now = ctx.blockTime;
  for (const r of readings) {
    const custom = policy?.thresholds.find((t) => t.kind === r.kind);
    const range = custom ?? DEFAULT_THRESHOLDS[r.kind];
    if (!range || (r.value >= range.low && r.value <= range.high)) continue;
    const cause = `threshold.${r.value < range.low ? 'low' : 'high'}.${readingKindSpec(r.kind)!.name}`;
    // One open alert per cause: a run of out-of-range readings raises one alert until acknowledged.
    if ((await ctx.state.get(Keys.openAlert(patient, cause))) !== undefined) continue;
    const seq = await nextAlertSeq(env, patient);
    const alert = {
      seq,
      cause,
      kind: r.kind,
      value: r.value,
      news2Total: null,
      news2Band: null,
      missing: [],
      oldestAgeMs: Math.max(0, now - r.measuredAt),
      raisedAt: now,
      height: ctx.height,
      status: AlertStatus.open,
      ackBy: null,
      ackAt: null,
    };
    writeRecord(ctx.state, Keys.alert(patient, seq), Codec.alert, alert);
    writeRecord(ctx.state, Keys.openAlert(patient, cause), Codec.number, seq);
    raise(env, [patient, seq, cause, r.kind, r.value, null, null, [], alert.oldestAgeMs]);
  }

  const inputs: News2Inputs = {};
  for (const { param, kind } of NEWS2_PARAMETERS) {
    const v = latest[kind - 1];
    if (v) inputs[param] = v;
  }
  const score = computeNews2(inputs, now, { spo2Scale2: policy?.spo2Scale2 ?? false });
  const prev = await readRecord(ctx.state, Keys.news2(patient), Codec.news2);
  writeRecord(ctx.state, Keys.news2(patient), Codec.news2, {
    total: score.total,
    band: score.band,
    computedAt: now,
  });
  // An alert when the risk band rises (from low on the first score): RCP 2017 ties the clinical response
  // to the band, so a rise is what must reach a clinician.
  if (score.band > (prev?.band ?? RiskBand.low)) {
    const seq = await nextAlertSeq(env, patient);
    writeRecord(ctx.state, Keys.alert(patient, seq), Codec.alert, {
      seq,
      cause: 'news2',
      kind: null,
      value: null,
      news2Total: score.total,
      news2Band: score.band,
      missing: score.missing,
      oldestAgeMs: score.oldestAgeMs,
      raisedAt: now,
      height: ctx.height,
      status: AlertStatus.open,
      ackBy: null,
      ackAt: null,
    });
    raise(env, [
      patient,
      seq,
      'news2',
      null,
      null,
      score.total,
      score.band,
      score.missing,
      score.oldestAgeMs,
    ]);
  }
}
