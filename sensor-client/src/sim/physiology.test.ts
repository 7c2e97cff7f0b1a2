import { checkReading, computeNews2, RiskBand, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import t from 'tap';
import {
  makePatient,
  probeSlipAt,
  sampleToReadings,
  sampleVitals,
  scriptEpisodes,
  type VitalSample,
} from './physiology.ts';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MIN = 60_000;

function news2(s: VitalSample) {
  const at = (value: number) => ({ value, measuredAt: s.measuredAt });
  return computeNews2(
    {
      respiratoryRate: at(s.respiratoryRate),
      spo2: at(s.spo2),
      supplementalOxygen: at(0),
      systolicBp: at(s.systolicBp),
      heartRate: at(s.heartRate),
      consciousness: at(0),
      temperature: at(s.temperature),
    },
    s.measuredAt,
  );
}

t.test('same seed and time give identical samples; another seed differs', async (t) => {
  const a = makePatient(42, 3);
  const b = makePatient(42, 3);
  const c = makePatient(43, 3);
  const times = Array.from({ length: 200 }, (_, i) => T0 + i * 7_919);
  t.same(
    times.map((x) => sampleVitals(a, x)),
    times.map((x) => sampleVitals(b, x)),
  );
  // Evaluation order does not matter: the model keeps no state between calls.
  t.same(
    [...times].reverse().map((x) => sampleVitals(a, x)),
    times.map((x) => sampleVitals(b, x)).reverse(),
  );
  const differs = times.some(
    (x) => JSON.stringify(sampleVitals(a, x)) !== JSON.stringify(sampleVitals(c, x)),
  );
  t.ok(differs, 'a different seed gives a different patient');
});

t.test('every reading is a plausible integer in the kind unit', async (t) => {
  let checked = 0;
  const problems: string[] = [];
  for (let p = 0; p < 10; p++) {
    const pt = makePatient(7, p, {
      episodes: scriptEpisodes(7, p, { fraction: 0.5, fromMs: T0, toMs: T0 + 3_600_000 }),
    });
    for (let i = 0; i < 500; i++) {
      for (const r of sampleToReadings(sampleVitals(pt, T0 + i * 17_000))) {
        const problem = checkReading(r.kind, r.value, readingKindSpec(r.kind)!.unit);
        if (problem) problems.push(`patient ${p} kind ${r.kind} value ${r.value}: ${problem}`);
        checked++;
      }
    }
  }
  t.same(problems, []);
  t.equal(checked, 10 * 500 * 6);
});

t.test('patients at rest score NEWS2 low; the model has a circadian rhythm', async (t) => {
  let lowOrBetter = 0;
  let total = 0;
  const pt = makePatient(1, 0, { probeSlipRate: 0 });
  for (let p = 0; p < 20; p++) {
    const patient = makePatient(1, p, { probeSlipRate: 0 });
    for (let i = 0; i < 48; i++) {
      const r = news2(sampleVitals(patient, T0 + i * 30 * MIN));
      total++;
      if (r.band === RiskBand.low) lowOrBetter++;
    }
  }
  t.ok(lowOrBetter / total > 0.95, `at rest ${lowOrBetter}/${total} samples are NEWS2 low`);
  // Mean temperature in the late afternoon exceeds the early-morning mean (trough ~05:00, peak ~17:00).
  const mean = (hour: number) => {
    let s = 0;
    for (let d = 0; d < 20; d++) s += sampleVitals(pt, T0 + d * 86_400_000 + hour * 3_600_000).temperature;
    return s / 20;
  };
  t.ok(mean(17) > mean(5) + 2, `17:00 ${mean(17)} vs 05:00 ${mean(5)} (tenths of Cel)`);
});

t.test('a sepsis-like episode drives NEWS2 into medium then high, and recovers', async (t) => {
  const episode = {
    startMs: T0 + 60 * MIN,
    onsetMs: 20 * MIN,
    plateauMs: 30 * MIN,
    recoveryMs: 40 * MIN,
    severity: 1,
  };
  for (let p = 0; p < 10; p++) {
    const pt = makePatient(99, p, { episodes: [episode], probeSlipRate: 0 });
    const before = sampleVitals(pt, T0 + 30 * MIN);
    const plateau = sampleVitals(pt, T0 + 95 * MIN);
    const after = sampleVitals(pt, T0 + 200 * MIN);
    t.equal(before.severity, 0);
    t.equal(plateau.severity, 1);
    t.ok(plateau.heartRate > before.heartRate + 25, 'heart rate rises');
    t.ok(plateau.respiratoryRate > before.respiratoryRate + 6, 'respiratory rate rises');
    t.ok(plateau.systolicBp < before.systolicBp - 20, 'systolic pressure falls');
    t.ok(plateau.spo2 < before.spo2 - 4, 'SpO2 falls');
    t.ok(plateau.temperature > before.temperature + 12, 'fever');
    t.ok(news2(before).band <= RiskBand.lowMedium, `patient ${p} starts low (${news2(before).total})`);
    t.equal(news2(plateau).band, RiskBand.high, `patient ${p} plateau NEWS2 ${news2(plateau).total}`);
    t.ok(news2(after).band <= RiskBand.lowMedium, `patient ${p} recovers (${news2(after).total})`);
    // On the way in the score passes through medium (5-6) or jumps straight to high, never skipping up and down.
    let maxBand = 0;
    let sawMediumOrHigh = false;
    for (let m = 60; m <= 80; m++) {
      const band = news2(sampleVitals(pt, T0 + m * MIN)).band;
      if (band >= RiskBand.medium) sawMediumOrHigh = true;
      maxBand = Math.max(maxBand, band);
    }
    t.ok(sawMediumOrHigh && maxBand === RiskBand.high, 'onset reaches medium/high');
  }
});

t.test(
  'scripted episodes: the fraction of deteriorating patients follows the script, deterministically',
  async (t) => {
    const script = { fraction: 0.3, fromMs: T0, toMs: T0 + 3_600_000 };
    const eps = Array.from({ length: 1000 }, (_, i) => scriptEpisodes(5, i, script));
    const n = eps.filter((e) => e.length > 0).length;
    t.ok(n > 240 && n < 360, `${n} of 1000 deteriorate`);
    for (const e of eps.flat()) t.ok(e.startMs >= script.fromMs && e.startMs < script.toMs);
    t.same(
      eps,
      Array.from({ length: 1000 }, (_, i) => scriptEpisodes(5, i, script)),
    );
    t.same(scriptEpisodes(5, 0, { ...script, fraction: 0 }), []);
  },
);

t.test('probe slips: falsely low SpO2, flagged, and absent when the rate is zero', async (t) => {
  const pt = makePatient(3, 1, { probeSlipRate: 0.5 });
  let slips = 0;
  let mismatches = 0;
  let highDuringSlip = 0;
  for (let i = 0; i < 6 * 60 * 24; i++) {
    const s = sampleVitals(pt, T0 + i * 10_000);
    if (s.spo2ProbeSlip !== probeSlipAt(pt, s.measuredAt)) mismatches++;
    if (s.spo2ProbeSlip) {
      slips++;
      if (s.spo2 > 84) highDuringSlip++;
    }
  }
  t.equal(mismatches, 0, 'the flag matches the artefact schedule');
  t.equal(highDuringSlip, 0, 'a slipped probe reads low');
  t.ok(slips > 100, `${slips} slipped samples in a day`);
  const none = makePatient(3, 1, { probeSlipRate: 0 });
  t.notOk(
    Array.from({ length: 2000 }, (_, i) => probeSlipAt(none, T0 + i * 10_000)).some(Boolean),
    'no slips when the rate is zero',
  );
});
