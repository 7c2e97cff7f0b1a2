import t from 'tap';
import {
  computeNews2,
  RiskBand,
  riskBand,
  scoreConsciousness,
  scoreHeartRate,
  scoreRespiratoryRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSupplementalOxygen,
  scoreSystolicBp,
  scoreTemperature,
} from './news2.ts';

// Each row is [value, expected sub-score], taken from RCP NEWS2 (2017) chart 1, with both sides of
// every band boundary.
const table: Record<string, { fn: (v: number) => number; rows: [number, number][] }> = {
  respiratoryRate: {
    fn: scoreRespiratoryRate,
    rows: [
      [1, 3],
      [8, 3],
      [9, 1],
      [11, 1],
      [12, 0],
      [20, 0],
      [21, 2],
      [24, 2],
      [25, 3],
      [60, 3],
    ],
  },
  spo2Scale1: {
    fn: scoreSpo2Scale1,
    rows: [
      [50, 3],
      [91, 3],
      [92, 2],
      [93, 2],
      [94, 1],
      [95, 1],
      [96, 0],
      [100, 0],
    ],
  },
  spo2Scale2OnAir: {
    fn: (v) => scoreSpo2Scale2(v, false),
    rows: [
      [50, 3],
      [83, 3],
      [84, 2],
      [85, 2],
      [86, 1],
      [87, 1],
      [88, 0],
      [92, 0],
      [93, 0],
      [97, 0],
      [100, 0],
    ],
  },
  spo2Scale2OnOxygen: {
    fn: (v) => scoreSpo2Scale2(v, true),
    rows: [
      [83, 3],
      [84, 2],
      [85, 2],
      [86, 1],
      [87, 1],
      [88, 0],
      [92, 0],
      [93, 1],
      [94, 1],
      [95, 2],
      [96, 2],
      [97, 3],
      [100, 3],
    ],
  },
  supplementalOxygen: {
    fn: (v) => scoreSupplementalOxygen(v === 1),
    rows: [
      [0, 0],
      [1, 2],
    ],
  },
  systolicBp: {
    fn: scoreSystolicBp,
    rows: [
      [40, 3],
      [90, 3],
      [91, 2],
      [100, 2],
      [101, 1],
      [110, 1],
      [111, 0],
      [219, 0],
      [220, 3],
      [300, 3],
    ],
  },
  heartRate: {
    fn: scoreHeartRate,
    rows: [
      [20, 3],
      [40, 3],
      [41, 1],
      [50, 1],
      [51, 0],
      [90, 0],
      [91, 1],
      [110, 1],
      [111, 2],
      [130, 2],
      [131, 3],
      [250, 3],
    ],
  },
  consciousness: {
    fn: scoreConsciousness,
    rows: [
      [0, 0],
      [1, 3],
      [2, 3],
      [3, 3],
      [4, 3],
    ],
  },
  temperatureDeciCelsius: {
    fn: scoreTemperature,
    rows: [
      [250, 3],
      [350, 3],
      [351, 1],
      [360, 1],
      [361, 0],
      [380, 0],
      [381, 1],
      [390, 1],
      [391, 2],
      [420, 2],
    ],
  },
};

for (const [name, { fn, rows }] of Object.entries(table)) {
  t.test(`NEWS2 ${name} matches the RCP chart at every boundary`, async (t) => {
    for (const [value, expected] of rows) t.equal(fn(value), expected, `${name}(${value})`);
  });
}

t.test('risk bands follow RCP chart 2', async (t) => {
  t.equal(riskBand(0, false), RiskBand.low);
  t.equal(riskBand(4, false), RiskBand.low);
  t.equal(riskBand(3, true), RiskBand.lowMedium, 'a single 3 makes low-medium');
  t.equal(riskBand(4, true), RiskBand.lowMedium);
  t.equal(riskBand(5, false), RiskBand.medium);
  t.equal(riskBand(6, true), RiskBand.medium, 'aggregate 5-6 dominates a single 3');
  t.equal(riskBand(7, false), RiskBand.high);
  t.equal(riskBand(12, true), RiskBand.high);
});

t.test('computeNews2 sums sub-scores, names missing parameters and reports ages', async (t) => {
  const now = 1_000_000;
  const all = computeNews2(
    {
      respiratoryRate: { value: 22, measuredAt: now - 1000 }, // 2
      spo2: { value: 95, measuredAt: now - 1000 }, // 1
      supplementalOxygen: { value: 1, measuredAt: now - 5000 }, // 2
      systolicBp: { value: 105, measuredAt: now }, // 1
      heartRate: { value: 115, measuredAt: now }, // 2
      consciousness: { value: 0, measuredAt: now }, // 0
      temperature: { value: 384, measuredAt: now - 60_000 }, // 1
    },
    now,
  );
  t.equal(all.total, 9);
  t.equal(all.band, RiskBand.high);
  t.same(all.missing, []);
  t.equal(all.oldestAgeMs, 60_000);
  t.equal(all.subscores.supplementalOxygen, 2);

  const partial = computeNews2({ heartRate: { value: 35, measuredAt: now - 10 } }, now);
  t.equal(partial.total, 3);
  t.equal(partial.band, RiskBand.lowMedium);
  t.same(partial.missing, [
    'respiratoryRate',
    'spo2',
    'supplementalOxygen',
    'systolicBp',
    'consciousness',
    'temperature',
  ]);
  t.equal(partial.agesMs.heartRate, 10);

  const empty = computeNews2({}, now);
  t.equal(empty.total, 0);
  t.equal(empty.missing.length, 7);
  t.equal(empty.oldestAgeMs, 0);
});

t.test('scale 2 uses the oxygen value, missing oxygen counts as air', async (t) => {
  const now = 10;
  const onO2 = computeNews2(
    { spo2: { value: 97, measuredAt: 0 }, supplementalOxygen: { value: 1, measuredAt: 0 } },
    now,
    { spo2Scale2: true },
  );
  t.equal(onO2.subscores.spo2, 3);
  t.equal(onO2.total, 5);
  const noO2Value = computeNews2({ spo2: { value: 97, measuredAt: 0 } }, now, { spo2Scale2: true });
  t.equal(noO2Value.subscores.spo2, 0);
  t.ok(noO2Value.missing.includes('supplementalOxygen'));
  const scale1 = computeNews2({ spo2: { value: 97, measuredAt: 0 } }, now);
  t.equal(scale1.subscores.spo2, 0);
});
