import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { Keys } from './keys.ts';
import { readAuditTrail } from './query.ts';
import { Codec, readRecord } from './records.ts';
import { DAY, HOUR, World } from './testing/world.ts';

const grantTo = (w: World, key: Uint8Array, over: Partial<Extract<TxBody, { type: 40 }>> = {}): TxBody => ({
  type: 40,
  patient: w.patient.key,
  grantee: { kind: 1, key },
  scopes: ['vitals.*'],
  purpose: 1,
  expiresAt: w.now + DAY,
  ...over,
});

t.test('grantAccess', async (t) => {
  const w = await new World().populated();
  t.ok((await w.run(w.patient, grantTo(w, w.clinician.key))).ok, 'patient grants a clinician');
  t.ok((await w.run(w.guardian, grantTo(w, w.otherClinician.key))).ok, 'guardian grants');
  t.ok(
    (await w.run(w.patient, grantTo(w, w.clinician.key, { grantee: { kind: 2, orgId: 'org-b' } }))).ok,
    'to an organisation',
  );
  t.ok((await w.run(w.patient, grantTo(w, w.researcher.key, { purpose: 2 }))).ok, 'researcher for research');
  t.equal(
    (await w.run(w.clinician, grantTo(w, w.otherClinician.key))).code,
    'NOT_PATIENT_OR_GUARDIAN',
    'no re-granting',
  );
  t.equal((await w.run(w.stranger, grantTo(w, w.clinician.key))).code, 'NOT_PATIENT_OR_GUARDIAN');
  t.equal(
    (await w.run(w.patient, grantTo(w, w.researcher.key))).code,
    'BAD_GRANTEE',
    'researcher for treatment',
  );
  t.equal((await w.run(w.patient, grantTo(w, w.stranger.key))).code, 'BAD_GRANTEE', 'not enrolled');
  t.equal(
    (await w.run(w.patient, grantTo(w, w.admins[0]!.key))).code,
    'BAD_GRANTEE',
    'admins are not clinicians',
  );
  t.equal(
    (await w.run(w.patient, grantTo(w, w.clinician.key, { grantee: { kind: 2, orgId: 'org-z' } }))).code,
    'UNKNOWN_ORG',
  );
  t.equal((await w.run(w.patient, grantTo(w, w.clinician.key, { expiresAt: w.now - 1 }))).code, 'BAD_EXPIRY');
  t.equal(
    (await w.run(w.patient, grantTo(w, w.clinician.key, { expiresAt: w.now + 400 * DAY }))).code,
    'BAD_EXPIRY',
  );
  t.equal(
    (await w.run(w.stranger, { ...grantTo(w, w.clinician.key), patient: w.stranger.key } as TxBody)).code,
    'UNKNOWN_PATIENT',
  );
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
  t.equal((await w.run(w.patient, grantTo(w, w.clinician.key))).code, 'BAD_GRANTEE', 'suspended clinician');
  const grants = (await readRecord(w.h.state, Keys.grants(w.patient.key), Codec.grants))!;
  t.equal(grants.length, 4);
  for (let i = grants.length; i < 64; i++) await w.ok(w.patient, grantTo(w, w.otherClinician.key), 1);
  t.equal((await w.run(w.patient, grantTo(w, w.otherClinician.key))).code, 'TOO_MANY_GRANTS');
  // Expired grants are pruned when the list is next written, freeing room.
  w.now += 2 * DAY;
  t.ok((await w.run(w.patient, grantTo(w, w.otherClinician.key))).ok);
  t.equal((await readRecord(w.h.state, Keys.grants(w.patient.key), Codec.grants))!.length, 1);
});

t.test('revokeAccess', async (t) => {
  const w = await new World().populated();
  const id = await w.grantClinician();
  t.equal(
    (await w.run(w.clinician, { type: 41, patient: w.patient.key, grantId: id })).code,
    'NOT_PATIENT_OR_GUARDIAN',
  );
  t.equal(
    (await w.run(w.patient, { type: 41, patient: w.patient.key, grantId: new Uint8Array(32) })).code,
    'UNKNOWN_GRANT',
  );
  t.ok((await w.run(w.guardian, { type: 41, patient: w.patient.key, grantId: id })).ok);
  t.equal(
    (await w.run(w.patient, { type: 41, patient: w.patient.key, grantId: id })).code,
    'UNKNOWN_GRANT',
    'once',
  );
  const id2 = await w.grantClinician();
  t.equal(
    (await w.run(w.patient, { type: 41, patient: w.patient.key, grantId: id2 }, 2 * DAY)).code,
    'UNKNOWN_GRANT',
    'expired grants are gone',
  );
});

t.test('emergencyAccess and closeEmergencyAccess', async (t) => {
  const w = await new World().populated();
  const open = (over: Partial<Extract<TxBody, { type: 42 }>> = {}): TxBody => ({
    type: 42,
    patient: w.patient.key,
    reasonCode: 'ETREAT',
    reason: 'found unconscious, no consent possible',
    durationMs: 4 * HOUR,
    ...over,
  });
  t.equal((await w.run(w.researcher, open())).code, 'NOT_CLINICIAN');
  t.equal((await w.run(w.stranger, open())).code, 'NOT_CLINICIAN');
  t.equal((await w.run(w.admins[0]!, open())).code, 'NOT_CLINICIAN');
  t.equal((await w.run(w.clinician, open({ durationMs: DAY + 1 }))).code, 'EMERGENCY_TOO_LONG');
  t.equal((await w.run(w.clinician, open({ patient: w.stranger.key }))).code, 'UNKNOWN_PATIENT');
  t.equal((await w.run(w.clinician, open({ reasonCode: 'BORED' }))).code, 'BODY_ENUM');
  const r = await w.run(w.clinician, open());
  t.ok(r.ok, 'always allowed to an active clinician, no grant needed');
  t.equal((await w.run(w.clinician, open())).code, 'EMERGENCY_ALREADY_OPEN');
  t.ok(
    w.h.events.some((e) => e.event.kind === 'emergencyAccessOpened'),
    'emitted so the patient is told',
  );
  const trail = await readAuditTrail(
    w.h.view(),
    { key: w.patient.key, purpose: 1 },
    { patient: w.patient.key },
  );
  const entry = trail.items.find((i) => i.event === 'emergencyOpened')!;
  t.ok(entry, 'in the audit trail, visible to the patient');
  t.same(entry.actor, w.clinician.key);
  const close: TxBody = { type: 43, patient: w.patient.key, accessId: r.txId };
  t.equal((await w.run(w.otherClinician, close)).code, 'NOT_PATIENT_OR_GUARDIAN');
  t.equal(
    (await w.run(w.clinician, { ...close, accessId: new Uint8Array(32) } as TxBody)).code,
    'UNKNOWN_EMERGENCY',
  );
  t.ok((await w.run(w.clinician, close)).ok, 'closed by the clinician');
  t.equal((await w.run(w.clinician, close)).code, 'UNKNOWN_EMERGENCY');
  const r2 = await w.ok(w.clinician, open());
  t.ok(
    (await w.run(w.patient, { type: 43, patient: w.patient.key, accessId: r2.txId })).ok,
    'closed by the patient',
  );
  const r3 = await w.ok(w.clinician, open({ durationMs: HOUR }));
  t.equal(
    (await w.run(w.guardian, { type: 43, patient: w.patient.key, accessId: r3.txId }, 2 * HOUR)).code,
    'UNKNOWN_EMERGENCY',
    'expired by itself',
  );
  t.ok((await w.run(w.clinician, open())).ok, 'can open again after expiry');
});

t.test('at most 16 break-glass accesses are open per patient', async (t) => {
  const w = await new World().populated();
  const open: TxBody = {
    type: 42,
    patient: w.patient.key,
    reasonCode: 'BTG',
    reason: 'mass casualty',
    durationMs: HOUR,
  };
  for (let i = 0; i < 16; i++) {
    const c = w.actor();
    await w.ok(w.admins[1]!, { type: 10, publicKey: c.key, licenceId: `L${i}` }, 1);
    await w.ok(c, open, 1);
  }
  t.equal((await w.run(w.clinician, open)).code, 'TOO_MANY_EMERGENCIES');
  t.ok((await w.run(w.clinician, open, HOUR)).ok, 'room again once they expire');
});

t.test('recordAccess', async (t) => {
  const w = await new World().populated();
  const body: TxBody = {
    type: 52,
    reader: w.clinician.key,
    patient: w.patient.key,
    categories: ['vitals.heartRate'],
    purpose: 1,
    readAt: w.now,
  };
  t.ok((await w.run(w.validators[2]!, body)).ok, 'a validator records a read');
  t.equal((await w.run(w.clinician, body)).code, 'NOT_VALIDATOR', 'readers cannot write their own audit');
  t.equal((await w.run(w.admins[0]!, body)).code, 'NOT_VALIDATOR');
  t.equal(
    (await w.run(w.validators[0]!, { ...body, patient: w.stranger.key } as TxBody)).code,
    'UNKNOWN_PATIENT',
  );
  t.equal((await w.run(w.validators[0]!, { ...body, categories: ['grants'] } as TxBody)).code, 'BODY_ENUM');
  t.equal(
    (await w.run(w.validators[0]!, { ...body, readAt: w.now - 4 * DAY } as TxBody)).code,
    'BAD_READ_TIME',
  );
  t.equal((await w.run(w.validators[0]!, { ...body, readAt: w.now + HOUR } as TxBody)).code, 'BAD_READ_TIME');
  const trail = await readAuditTrail(
    w.h.view(),
    { key: w.guardian.key, purpose: 1 },
    { patient: w.patient.key },
  );
  const read = trail.items.find((i) => i.event === 'read')!;
  t.same(read.actor, w.clinician.key);
  t.same(read.categories, ['vitals.heartRate']);
  t.same(read.detail, w.validators[2]!.key, 'names the recording node');
});

t.test(
  'clinical writes record the basis: emergency under break-glass, treatment under a grant',
  async (t) => {
    const w = await new World().populated();
    const P = w.patient.key;
    // A high heart rate raises an alert to acknowledge.
    await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(1, 150, w.now + 1000)] });
    await w.ok(w.clinician, {
      type: 42,
      patient: P,
      reasonCode: 'BTG',
      reason: 'collapsed',
      durationMs: HOUR,
    });
    // No grant at all: each write is possible only through break-glass.
    await w.ok(w.clinician, { type: 51, patient: P, readings: [w.reading(1, 120, w.now + 1000)] });
    await w.ok(w.clinician, { type: 60, patient: P, thresholds: [], spo2Scale2: false });
    await w.ok(w.clinician, { type: 61, patient: P, alertSeq: 1 });
    // Under a treatment grant the same writes are treatment, even with the break-glass still open.
    await w.grantClinician(['*']);
    await w.ok(w.clinician, { type: 51, patient: P, readings: [w.reading(1, 80, w.now + 1000)] });
    await w.ok(w.clinician, { type: 60, patient: P, thresholds: [], spo2Scale2: true });
    // A grant covering only part of a write: the rest came through break-glass, so the write is emergency.
    const other = w.otherClinician;
    await w.ok(w.patient, grantTo(w, other.key, { scopes: ['vitals.heartRate'] }));
    await w.ok(other, { type: 42, patient: P, reasonCode: 'ETREAT', reason: 'arrest', durationMs: HOUR });
    await w.ok(other, {
      type: 51,
      patient: P,
      readings: [w.reading(1, 90, w.now + 1000), w.reading(2, 95, w.now + 1000)],
    });
    const trail = await readAuditTrail(w.h.view(), { key: P, purpose: 1 }, { patient: P });
    const writes = trail.items
      .filter((i) => ['observation', 'alertPolicy', 'alertAcknowledged'].includes(i.event))
      .map((i) => [i.event, i.purpose]);
    t.same(writes, [
      ['observation', 3],
      ['alertPolicy', 3],
      ['alertAcknowledged', 3],
      ['observation', 1],
      ['alertPolicy', 1],
      ['observation', 3],
    ]);
  },
);
