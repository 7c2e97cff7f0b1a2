import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { IndexKeys, Keys } from './keys.ts';
import { Codec, readRecord } from './records.ts';
import { DAY, HOUR, World } from './testing/world.ts';

t.test('submitReadings: a bound, active device for its own patient', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  const m = w.now + 500;
  const body: TxBody = {
    type: 50,
    patient: P,
    readings: [w.reading(1, 72, m), w.reading(2, 97, m), w.reading(5, 368, m)],
  };
  t.ok((await w.run(w.device, body)).ok);
  const stored = await w.h.index.get(IndexKeys.reading(P, 1, m, w.device.key));
  t.ok(stored, 'indexed by patient, kind and measurement time');
  const latest = (await readRecord(w.h.state, Keys.latest(P), Codec.latest))!;
  t.same(latest[0], { value: 72, measuredAt: m });
  t.same(latest[4], { value: 368, measuredAt: m }, 'temperature in 0.1 Cel');
  t.equal(latest[2], null);

  // Late store-and-forward data inside the window is accepted but does not replace a newer latest value.
  const late = w.now - 2 * DAY;
  const other = w.actor();
  await w.ok(w.patient, {
    type: 30,
    device: other.key,
    patient: P,
    validFrom: late - HOUR,
    validUntil: w.now + DAY,
  });
  t.ok(
    (await w.run(other, { type: 50, patient: P, readings: [w.reading(1, 80, late)] })).ok,
    'late data accepted',
  );
  t.same((await readRecord(w.h.state, Keys.latest(P), Codec.latest))![0], { value: 72, measuredAt: m });
});

t.test('submitReadings rejections', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  const send = (d: typeof w.device, readings: ReturnType<World['reading']>[], patient = P) =>
    w.run(d, { type: 50, patient, readings });
  t.equal((await send(w.stranger, [w.reading(1, 70, w.now)])).code, 'UNKNOWN_DEVICE', 'unbound key');
  const p2 = w.actor();
  await w.ok(p2, { type: 20, patient: p2.key });
  t.equal((await send(w.device, [w.reading(1, 70, w.now)], p2.key)).code, 'DEVICE_WRONG_PATIENT');
  t.equal(
    (await send(w.device, [w.reading(8, 0, w.now)])).code,
    'READING_KIND_NOT_ALLOWED',
    'ACVPU is clinical',
  );
  t.equal((await send(w.device, [w.reading(7, 1, w.now)])).code, 'READING_KIND_NOT_ALLOWED');
  t.equal(
    (await send(w.device, [{ kind: 9, value: 1, unit: '/min', measuredAt: w.now }])).code,
    'READING_KIND_NOT_ALLOWED',
  );
  t.equal(
    (await send(w.device, [{ kind: 1, value: 70, unit: 'bpm', measuredAt: w.now }])).code,
    'READING_UNIT',
  );
  t.equal(
    (await send(w.device, [{ kind: 5, value: 98, unit: 'Cel', measuredAt: w.now }])).code,
    'READING_IMPLAUSIBLE',
  );
  t.equal((await send(w.device, [w.reading(2, 101, w.now)])).code, 'READING_IMPLAUSIBLE');
  t.equal((await send(w.device, [w.reading(1, 70, w.now - 4 * DAY)])).code, 'READING_TOO_OLD');
  t.equal((await send(w.device, [w.reading(1, 70, w.now + 5 * 60_000)])).code, 'READING_IN_FUTURE');
  t.ok((await send(w.device, [w.reading(1, 70, w.now + 1000 + 20_000)])).ok, 'small skew tolerated');
  t.equal(
    (await send(w.device, [w.reading(2, 97, w.now), w.reading(2, 98, w.now)])).code,
    'READING_DUPLICATE',
  );
  t.equal(
    (await send(w.device, [w.reading(1, 70, w.now)])).code,
    'READING_NOT_INCREASING',
    'behind the last one',
  );
  const last = w.now + 1000;
  t.ok((await send(w.device, [w.reading(2, 97, last)])).ok);
  t.equal(
    (await send(w.device, [w.reading(2, 97, last)])).code,
    'READING_NOT_INCREASING',
    'replayed reading',
  );
  t.equal(
    (await send(w.device, [w.reading(1, 70, w.now + 1000)], w.stranger.key)).code,
    'DEVICE_WRONG_PATIENT',
  );
  const early = w.actor();
  await w.ok(w.patient, {
    type: 30,
    device: early.key,
    patient: P,
    validFrom: w.now + HOUR,
    validUntil: w.now + DAY,
  });
  t.equal((await send(early, [w.reading(1, 70, w.now)])).code, 'DEVICE_NOT_VALID_NOW', 'before validFrom');
  const brief = w.actor();
  await w.ok(w.patient, {
    type: 30,
    device: brief.key,
    patient: P,
    validFrom: w.now,
    validUntil: w.now + 10_000,
  });
  t.equal(
    (await w.run(brief, { type: 50, patient: P, readings: [w.reading(1, 70, w.now + 20_000)] }, 20_000)).code,
    'DEVICE_NOT_VALID_NOW',
    'after validUntil',
  );
});

t.test(
  'recordObservation: a clinician with access records observations, including ACVPU and oxygen',
  async (t) => {
    const w = await new World().populated();
    const P = w.patient.key;
    const obs = (readings: ReturnType<World['reading']>[]): TxBody => ({ type: 51, patient: P, readings });
    t.equal((await w.run(w.clinician, obs([w.reading(8, 0, w.now)]))).code, 'NO_ACCESS', 'no grant');
    t.equal((await w.run(w.researcher, obs([w.reading(8, 0, w.now)]))).code, 'NOT_CLINICIAN');
    t.equal((await w.run(w.device, obs([w.reading(8, 0, w.now)]))).code, 'NOT_CLINICIAN');
    await w.grantClinician(['vitals.consciousness']);
    t.ok((await w.run(w.clinician, obs([w.reading(8, 0, w.now)]))).ok, 'within scope');
    t.equal((await w.run(w.clinician, obs([w.reading(7, 1, w.now)]))).code, 'NO_ACCESS', 'outside scope');
    await w.grantClinician(['vitals.supplementalOxygen']);
    const m = w.now;
    t.ok((await w.run(w.clinician, obs([w.reading(7, 1, m)]))).ok);
    t.equal((await w.run(w.clinician, obs([w.reading(7, 1, m)]))).code, 'READING_DUPLICATE');
    t.equal((await w.run(w.clinician, obs([w.reading(7, 2, w.now)]))).code, 'READING_IMPLAUSIBLE');
    t.equal((await w.run(w.clinician, obs([w.reading(7, 1, w.now + DAY)]))).code, 'READING_IN_FUTURE');
    // Break-glass covers every category.
    await w.ok(w.otherClinician, {
      type: 42,
      patient: P,
      reasonCode: 'ETREAT',
      reason: 'arrest',
      durationMs: HOUR,
    });
    t.ok((await w.run(w.otherClinician, obs([w.reading(1, 150, w.now)]))).ok, 'under emergency access');
    t.equal(
      (await w.run(w.otherClinician, obs([w.reading(1, 150, w.now + HOUR)]), HOUR)).code,
      'NO_ACCESS',
      'after expiry',
    );
    await w.ok(w.admins[0]!, { type: 12, publicKey: w.clinician.key, reasonCode: 'x' });
    t.equal((await w.run(w.clinician, obs([w.reading(8, 1, w.now)]))).code, 'SENDER_SUSPENDED');
  },
);
