// Table-driven checks that cut across the rule table: every patient-scoped transaction refuses an
// unregistered patient, and every transaction an admin or clinician sends refuses a suspended sender.

import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import type { TestActor } from './testing/harness.ts';
import { DAY, HOUR, World } from './testing/world.ts';

t.test('every patient-scoped transaction refuses an unregistered patient', async (t) => {
  const w = await new World().populated();
  const X = w.actor().key; // never registered
  const z = new Uint8Array(32);
  const r = (kind: number) => [w.reading(kind, kind === 8 ? 0 : 70, w.now + 1000)];
  const cases: [TestActor, TxBody, string][] = [
    [w.stranger, { type: 21, patient: X, guardian: w.guardian.key }, 'UNKNOWN_PATIENT'],
    [w.stranger, { type: 22, patient: X, guardian: w.guardian.key }, 'UNKNOWN_PATIENT'],
    [
      w.admins[0]!,
      { type: 30, device: w.actor().key, patient: X, validFrom: w.now, validUntil: w.now + DAY },
      'UNKNOWN_PATIENT',
    ],
    [
      w.stranger,
      {
        type: 40,
        patient: X,
        grantee: { kind: 2, orgId: 'org-a' },
        scopes: ['*'],
        purpose: 1,
        expiresAt: w.now + DAY,
      },
      'UNKNOWN_PATIENT',
    ],
    [w.stranger, { type: 41, patient: X, grantId: z }, 'UNKNOWN_PATIENT'],
    [
      w.clinician,
      { type: 42, patient: X, reasonCode: 'ETREAT', reason: 'r', durationMs: HOUR },
      'UNKNOWN_PATIENT',
    ],
    [w.clinician, { type: 43, patient: X, accessId: z }, 'UNKNOWN_PATIENT'],
    [w.stranger, { type: 44, patient: X, optIn: true }, 'UNKNOWN_PATIENT'],
    [w.device, { type: 50, patient: X, readings: r(1) }, 'DEVICE_WRONG_PATIENT'],
    [w.clinician, { type: 51, patient: X, readings: r(8) }, 'UNKNOWN_PATIENT'],
    [
      w.validators[0]!,
      { type: 52, reader: w.clinician.key, patient: X, categories: ['alerts'], purpose: 1, readAt: w.now },
      'UNKNOWN_PATIENT',
    ],
    [w.clinician, { type: 60, patient: X, thresholds: [], spo2Scale2: false }, 'UNKNOWN_PATIENT'],
    [w.clinician, { type: 61, patient: X, alertSeq: 1 }, 'UNKNOWN_PATIENT'],
  ];
  for (const [sender, body, code] of cases)
    t.equal((await w.run(sender, body)).code, code, `type ${body.type}`);
});

t.test('a suspended clinician or admin can send nothing that needs their role', async (t) => {
  const w = await new World().populated();
  await w.grantClinician(['*']);
  await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
  await w.ok(w.coAdmin, { type: 12, publicKey: w.admins[0]!.key, reasonCode: 'x' });
  const P = w.patient.key;
  const A = w.admins[0]!;
  const C = w.clinician;
  const cases: [TestActor, TxBody][] = [
    [A, { type: 1, proposal: { action: 4, name: 'maxGrantMs', value: DAY } }],
    [A, { type: 2, proposalId: new Uint8Array(32) }],
    [A, { type: 10, publicKey: w.actor().key, licenceId: 'L' }],
    [A, { type: 11, publicKey: w.actor().key, studyId: 'S' }],
    [A, { type: 12, publicKey: w.researcher.key, reasonCode: 'x' }],
    [A, { type: 13, publicKey: C.key }],
    [A, { type: 20, patient: w.actor().key }],
    [A, { type: 30, device: w.actor().key, patient: P, validFrom: w.now, validUntil: w.now + DAY }],
    [A, { type: 32, device: w.device.key, suspended: true }],
    [A, { type: 33, device: w.device.key }],
    [C, { type: 20, patient: w.actor().key }],
    [C, { type: 42, patient: P, reasonCode: 'ETREAT', reason: 'r', durationMs: HOUR }],
    [C, { type: 51, patient: P, readings: [w.reading(8, 0, w.now + 1000)] }],
    [C, { type: 60, patient: P, thresholds: [], spo2Scale2: false }],
    [C, { type: 61, patient: P, alertSeq: 1 }],
  ];
  for (const [sender, body] of cases) {
    t.equal(
      (await w.run(sender, body)).code,
      'SENDER_SUSPENDED',
      `type ${body.type} from a suspended ${sender === A ? 'admin' : 'clinician'}`,
    );
  }
  // And a suspended clinician is no longer a valid grantee.
  t.equal(
    (
      await w.run(w.patient, {
        type: 40,
        patient: P,
        grantee: { kind: 1, key: C.key },
        scopes: ['*'],
        purpose: 1,
        expiresAt: w.now + DAY,
      })
    ).code,
    'BAD_GRANTEE',
  );
});
