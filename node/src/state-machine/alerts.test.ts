import t from 'tap';
import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { RiskBand } from '@vigil/consensus/vitals/index.ts';
import { readAlerts, readEarlyWarningScore } from './query.ts';
import { Keys } from './keys.ts';
import { Codec, readRecord } from './records.ts';
import { World } from './testing/world.ts';

async function setup() {
  const w = await new World().populated();
  await w.grantClinician(['*']);
  return w;
}

const raised = (w: World) =>
  w.h.events.filter((e) => e.event.kind === 'alertRaised').map((e) => e.event.data as unknown[]);

t.test(
  'a reading outside the default thresholds raises one alert per cause until acknowledged',
  async (t) => {
    const w = await setup();
    const P = w.patient.key;
    const send = (v: number) =>
      w.run(w.device, { type: 50, patient: P, readings: [w.reading(1, v, w.now + 1000)] });
    await send(80);
    t.equal(raised(w).length, 0, 'normal reading: no alert');
    await send(140);
    const [a] = raised(w);
    t.equal(a![2], 'threshold.high.heartRate', 'names its cause');
    t.equal(a![4], 140);
    await send(150);
    t.equal(
      raised(w).filter((d) => d[2] === 'threshold.high.heartRate').length,
      1,
      'deduplicated while open',
    );
    const alert = (await readRecord(w.h.state, Keys.alert(P, 1), Codec.alert))!;
    t.equal(alert.status, 0);
    t.ok((await w.run(w.clinician, { type: 61, patient: P, alertSeq: 1 })).ok, 'acknowledged');
    const acked = (await readRecord(w.h.state, Keys.alert(P, 1), Codec.alert))!;
    t.same(acked.ackBy, w.clinician.key, 'by whom');
    t.equal(acked.ackAt, w.now, 'and when');
    await send(155);
    t.equal(
      raised(w).filter((d) => d[2] === 'threshold.high.heartRate').length,
      2,
      'raised again after acknowledgement',
    );
  },
);

t.test('acknowledgeAlert rejections', async (t) => {
  const w = await setup();
  const P = w.patient.key;
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(2, 85, w.now + 1000)] });
  t.equal((await w.run(w.otherClinician, { type: 61, patient: P, alertSeq: 1 })).code, 'NO_ACCESS');
  t.equal((await w.run(w.patient, { type: 61, patient: P, alertSeq: 1 })).code, 'NOT_CLINICIAN');
  t.equal((await w.run(w.clinician, { type: 61, patient: P, alertSeq: 99 })).code, 'UNKNOWN_ALERT');
  t.ok((await w.run(w.clinician, { type: 61, patient: P, alertSeq: 1 })).ok);
  t.equal(
    (await w.run(w.clinician, { type: 61, patient: P, alertSeq: 1 })).code,
    'ALERT_ALREADY_ACKNOWLEDGED',
  );
  await w.grantClinician(['vitals.*'], 1, w.otherClinician);
  t.equal(
    (await w.run(w.otherClinician, { type: 61, patient: P, alertSeq: 2 })).code,
    'NO_ACCESS',
    'needs the alerts scope',
  );
});

t.test('setAlertPolicy: per-patient thresholds and the SpO2 scale', async (t) => {
  const w = await setup();
  const P = w.patient.key;
  const policy = (over: Partial<Extract<TxBody, { type: 60 }>> = {}): TxBody => ({
    type: 60,
    patient: P,
    thresholds: [{ kind: 1, low: 50, high: 100 }],
    spo2Scale2: false,
    ...over,
  });
  t.equal((await w.run(w.otherClinician, policy())).code, 'NO_ACCESS');
  t.equal((await w.run(w.guardian, policy())).code, 'NOT_CLINICIAN');
  t.equal(
    (await w.run(w.clinician, policy({ thresholds: [{ kind: 1, low: 0, high: 100 }] }))).code,
    'BAD_THRESHOLD',
  );
  t.equal(
    (await w.run(w.clinician, policy({ thresholds: [{ kind: 9, low: 0, high: 1 }] }))).code,
    'BAD_THRESHOLD',
  );
  t.ok((await w.run(w.clinician, policy())).ok);
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(1, 110, w.now + 1000)] });
  t.equal(raised(w)[0]![2], 'threshold.high.heartRate', 'custom threshold applies (110 > 100)');
  const p = (await readRecord(w.h.state, Keys.policy(P), Codec.policy))!;
  t.same(p.setBy, w.clinician.key);
});

t.test('NEWS2 alerts on escalation of the risk band, naming missing parameters and their age', async (t) => {
  const w = await setup();
  const P = w.patient.key;
  const m = w.now + 1000;
  // RR 22 (2) + SpO2 95 (1) + HR 115 (2) = 5: medium; SBP, temperature, oxygen, ACVPU missing.
  await w.ok(w.device, {
    type: 50,
    patient: P,
    readings: [w.reading(6, 22, m), w.reading(2, 95, m), w.reading(1, 115, m)],
  });
  const news = raised(w).filter((d) => d[2] === 'news2');
  t.equal(news.length, 1);
  t.equal(news[0]![5], 5);
  t.equal(news[0]![6], RiskBand.medium);
  t.same(news[0]![7], ['supplementalOxygen', 'systolicBp', 'consciousness', 'temperature']);
  t.equal(news[0]![8], 0, 'age of the oldest value at the block time');
  // Same band again: no new alert.
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(1, 112, w.now + 1000)] });
  t.equal(raised(w).filter((d) => d[2] === 'news2').length, 1);
  // ACVPU "new confusion" from a clinician: +3 => 8, high.
  await w.ok(w.clinician, { type: 51, patient: P, readings: [w.reading(8, 1, w.now)] });
  const high = raised(w).filter((d) => d[2] === 'news2');
  t.equal(high.length, 2, 'escalated');
  t.equal(high[1]![6], RiskBand.high);
  t.equal(high[1]![5], 8);
  t.equal((await readRecord(w.h.state, Keys.news2(P), Codec.news2))!.band, RiskBand.high);
  const { items } = await readAlerts(w.h.view(), { key: w.clinician.key, purpose: 1 }, { patient: P }, w.now);
  t.equal(items[0]!.cause, 'news2', 'newest first');
  t.ok(items.length >= 3);
  const score = await readEarlyWarningScore(
    w.h.view(),
    { key: w.clinician.key, purpose: 1 },
    P,
    w.now + 60_000,
  );
  t.equal(score.total, 8);
  t.equal(score.band, RiskBand.high);
  t.same(score.missing, ['supplementalOxygen', 'systolicBp', 'temperature']);
  t.equal(score.oldestAgeMs, 60_000 + (w.now - m), 'aged to the reader’s now');
  t.equal(score.agesMs.consciousness, 61_000, 'ACVPU was measured 1 s before its block');
});

t.test('SpO2 scale 2 for hypercapnic patients changes the NEWS2 score', async (t) => {
  const w = await setup();
  const P = w.patient.key;
  await w.ok(w.clinician, {
    type: 60,
    patient: P,
    thresholds: [{ kind: 2, low: 84, high: 100 }],
    spo2Scale2: true,
  });
  // SpO2 88 scores 3 on scale 1 but 0 on scale 2; no alert with scale 2.
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(2, 88, w.now + 1000)] });
  t.equal(raised(w).length, 0);
  t.equal((await readRecord(w.h.state, Keys.news2(P), Codec.news2))!.total, 0);
  await w.ok(w.clinician, {
    type: 51,
    patient: P,
    readings: [w.reading(7, 1, w.now + 1000), w.reading(2, 97, w.now + 1000)],
  });
  // On oxygen (2) and SpO2 97 on oxygen (3) on scale 2 => 5, medium.
  t.equal((await readRecord(w.h.state, Keys.news2(P), Codec.news2))!.total, 5);
});
