import t from 'tap';
import { decodeCanonical } from '@vigil/consensus/wire';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { Keys } from './keys.ts';
import { Codec, readRecord } from './records.ts';
import { World } from './testing/world.ts';

t.test('enrolClinician / enrolResearcher', async (t) => {
  const w = new World();
  const c = w.actor();
  t.ok((await w.run(w.admins[0]!, { type: 10, publicKey: c.key, licenceId: 'GMC-9' })).ok, 'admin enrols');
  const rec = await readRecord(w.h.state, Keys.actor(c.key), Codec.actor);
  t.equal(rec?.orgId, 'org-a', 'in the admin’s organisation');
  t.equal(rec?.credential, 'GMC-9');
  t.equal(
    (await w.run(w.stranger, { type: 10, publicKey: w.actor().key, licenceId: 'X' })).code,
    'NOT_ORG_ADMIN',
  );
  t.equal(
    (await w.run(c, { type: 10, publicKey: w.actor().key, licenceId: 'X' })).code,
    'NOT_ORG_ADMIN',
    'clinicians cannot enrol',
  );
  t.equal((await w.run(w.admins[1]!, { type: 10, publicKey: c.key, licenceId: 'X' })).code, 'KEY_IN_USE');
  t.equal(
    (await w.run(w.admins[1]!, { type: 10, publicKey: w.admins[2]!.key, licenceId: 'X' })).code,
    'KEY_IN_USE',
  );
  const r = w.actor();
  t.ok((await w.run(w.admins[1]!, { type: 11, publicKey: r.key, studyId: 'S-1' })).ok, 'researcher enrolled');
  t.equal((await w.run(r, { type: 11, publicKey: w.actor().key, studyId: 'S' })).code, 'NOT_ORG_ADMIN');
  t.equal((await w.run(w.admins[1]!, { type: 11, publicKey: r.key, studyId: 'S' })).code, 'KEY_IN_USE');
  t.equal(
    (await w.run(w.admins[0]!, { type: 10, publicKey: w.actor().key, licenceId: 'bad id' })).code,
    'BODY_FIELD',
  );
  // A suspended admin cannot enrol.
  t.ok((await w.run(w.coAdmin, { type: 12, publicKey: w.admins[0]!.key, reasonCode: 'audit' })).ok);
  t.equal(
    (await w.run(w.admins[0]!, { type: 10, publicKey: w.actor().key, licenceId: 'X' })).code,
    'SENDER_SUSPENDED',
  );
});

t.test('suspendActor / reinstateActor', async (t) => {
  const w = await new World().populated();
  t.equal(
    (await w.run(w.admins[1]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' })).code,
    'WRONG_ORG',
  );
  t.equal(
    (await w.run(w.clinician, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' })).code,
    'NOT_ORG_ADMIN',
  );
  t.equal(
    (await w.run(w.admins[0]!, { type: 12, publicKey: w.admins[0]!.key, reasonCode: 'x' })).code,
    'SELF_SUSPEND',
  );
  t.equal(
    (await w.run(w.admins[0]!, { type: 12, publicKey: w.stranger.key, reasonCode: 'x' })).code,
    'UNKNOWN_ACTOR',
  );
  t.equal((await w.run(w.admins[0]!, { type: 13, publicKey: w.clinician.key })).code, 'NOT_SUSPENDED');
  t.ok(
    (await w.run(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' })).ok,
    'suspended',
  );
  t.equal(
    (await w.run(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' })).code,
    'ALREADY_SUSPENDED',
  );
  // A suspended clinician can no longer break the glass.
  const eg: TxBody = {
    type: 42,
    patient: w.patient.key,
    reasonCode: 'ETREAT',
    reason: 'collapse',
    durationMs: 3_600_000,
  };
  t.equal((await w.run(w.clinician, eg)).code, 'SENDER_SUSPENDED');
  t.equal((await w.run(w.admins[1]!, { type: 13, publicKey: w.clinician.key })).code, 'WRONG_ORG');
  t.equal((await w.run(w.stranger, { type: 13, publicKey: w.clinician.key })).code, 'NOT_ORG_ADMIN');
  t.ok((await w.run(w.admins[0]!, { type: 13, publicKey: w.clinician.key })).ok, 'reinstated');
  t.ok((await w.run(w.clinician, eg)).ok, 'active again');
});

t.test('registerPatient', async (t) => {
  const w = await new World().populated();
  const p = w.actor();
  t.ok((await w.run(p, { type: 20, patient: p.key })).ok, 'self-registration');
  t.equal((await readRecord(w.h.state, Keys.patient(p.key), Codec.patient))?.registeredBy, null);
  const q = w.actor();
  t.ok((await w.run(w.admins[1]!, { type: 20, patient: q.key })).ok, 'by an admin');
  t.equal((await readRecord(w.h.state, Keys.patient(q.key), Codec.patient))?.registeredBy, 'org-b');
  t.ok((await w.run(w.clinician, { type: 20, patient: w.actor().key })).ok, 'by a clinician');
  t.equal(
    (await w.run(w.stranger, { type: 20, patient: w.actor().key })).code,
    'NOT_PATIENT',
    'strangers cannot register others',
  );
  t.equal((await w.run(w.researcher, { type: 20, patient: w.actor().key })).code, 'NOT_PATIENT');
  t.equal((await w.run(p, { type: 20, patient: p.key })).code, 'ALREADY_REGISTERED');
  t.equal((await w.run(w.clinician, { type: 20, patient: w.clinician.key })).code, 'KEY_IN_USE');
  t.equal((await w.run(w.device, { type: 20, patient: w.device.key })).code, 'KEY_IN_USE');
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
  t.equal((await w.run(w.clinician, { type: 20, patient: w.actor().key })).code, 'SENDER_SUSPENDED');
});

t.test('appointGuardian / removeGuardian', async (t) => {
  const w = await new World().populated();
  const g2 = w.actor();
  const P = w.patient.key;
  t.equal(
    (await w.run(w.guardian, { type: 21, patient: P, guardian: g2.key })).code,
    'NOT_PATIENT',
    'guardians cannot appoint',
  );
  t.equal(
    (await w.run(w.stranger, { type: 21, patient: w.stranger.key, guardian: g2.key })).code,
    'UNKNOWN_PATIENT',
  );
  t.equal((await w.run(w.patient, { type: 21, patient: P, guardian: P })).code, 'INVALID_GUARDIAN');
  t.equal(
    (await w.run(w.patient, { type: 21, patient: P, guardian: w.device.key })).code,
    'INVALID_GUARDIAN',
  );
  t.equal(
    (await w.run(w.patient, { type: 21, patient: P, guardian: w.guardian.key })).code,
    'ALREADY_GUARDIAN',
  );
  t.ok((await w.run(w.patient, { type: 21, patient: P, guardian: g2.key })).ok);
  await w.ok(w.patient, { type: 21, patient: P, guardian: w.actor().key });
  await w.ok(w.patient, { type: 21, patient: P, guardian: w.actor().key });
  t.equal(
    (await w.run(w.patient, { type: 21, patient: P, guardian: w.actor().key })).code,
    'TOO_MANY_GUARDIANS',
  );
  t.equal((await w.run(w.stranger, { type: 22, patient: P, guardian: g2.key })).code, 'NOT_PATIENT');
  t.equal(
    (await w.run(w.guardian, { type: 22, patient: P, guardian: g2.key })).code,
    'NOT_PATIENT',
    'nor remove others',
  );
  t.equal((await w.run(w.patient, { type: 22, patient: P, guardian: w.stranger.key })).code, 'NOT_GUARDIAN');
  t.ok((await w.run(w.patient, { type: 22, patient: P, guardian: g2.key })).ok, 'patient removes');
  t.ok(
    (await w.run(w.guardian, { type: 22, patient: P, guardian: w.guardian.key })).ok,
    'guardian steps down',
  );
  const rec = await readRecord(w.h.state, Keys.patient(P), Codec.patient);
  t.equal(rec?.guardians.length, 2);
  // The removed guardian has lost the patient's authority.
  const grant: TxBody = {
    type: 40,
    patient: P,
    grantee: { kind: 2, orgId: 'org-a' },
    scopes: ['*'],
    purpose: 1,
    expiresAt: w.now + 1e6,
  };
  t.equal((await w.run(w.guardian, grant)).code, 'NOT_PATIENT_OR_GUARDIAN');
});

t.test('researchConsent', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  t.ok((await w.run(w.patient, { type: 44, patient: P, optIn: true })).ok);
  t.equal((await w.run(w.patient, { type: 44, patient: P, optIn: true })).code, 'NO_CHANGE');
  t.ok((await w.run(w.guardian, { type: 44, patient: P, optIn: false })).ok, 'guardian may decide');
  t.equal((await w.run(w.clinician, { type: 44, patient: P, optIn: true })).code, 'NOT_PATIENT_OR_GUARDIAN');
  t.equal(
    (await w.run(w.stranger, { type: 44, patient: w.stranger.key, optIn: true })).code,
    'UNKNOWN_PATIENT',
  );
  t.equal((await readRecord(w.h.state, Keys.patient(P), Codec.patient))?.researchOptIn, false);
  t.ok(decodeCanonical((await w.h.state.get(Keys.patient(P)))!));
});
