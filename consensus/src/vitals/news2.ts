// National Early Warning Score 2 (Royal College of Physicians, "National Early Warning Score (NEWS) 2:
// Standardising the assessment of acute-illness severity in the NHS", December 2017, chart 1 and
// chart 2). Implemented band by band from the chart; every boundary is covered by news2.test.ts.
// Values are in the wire units of kinds.ts (temperature in tenths of a degree Celsius).

import { Acvpu, ReadingKind } from './kinds.ts';

export const News2Parameter = {
  respiratoryRate: 'respiratoryRate',
  spo2: 'spo2',
  supplementalOxygen: 'supplementalOxygen',
  systolicBp: 'systolicBp',
  heartRate: 'heartRate',
  consciousness: 'consciousness',
  temperature: 'temperature',
} as const;
export type News2Parameter = (typeof News2Parameter)[keyof typeof News2Parameter];

/** The seven NEWS2 parameters in chart order, with the reading kind that feeds each. */
export const NEWS2_PARAMETERS: readonly { param: News2Parameter; kind: ReadingKind }[] = [
  { param: 'respiratoryRate', kind: ReadingKind.respiratoryRate },
  { param: 'spo2', kind: ReadingKind.spo2 },
  { param: 'supplementalOxygen', kind: ReadingKind.supplementalOxygen },
  { param: 'systolicBp', kind: ReadingKind.systolicBp },
  { param: 'heartRate', kind: ReadingKind.heartRate },
  { param: 'consciousness', kind: ReadingKind.consciousness },
  { param: 'temperature', kind: ReadingKind.temperature },
];

/** Clinical risk bands (RCP 2017, chart 2), ordered so that a numeric comparison means "worse". */
export const RiskBand = { low: 0, lowMedium: 1, medium: 2, high: 3 } as const;
export type RiskBand = (typeof RiskBand)[keyof typeof RiskBand];
export const RISK_BAND_NAMES = ['low', 'low-medium', 'medium', 'high'] as const;

export function scoreRespiratoryRate(rr: number): number {
  if (rr <= 8) return 3;
  if (rr <= 11) return 1;
  if (rr <= 20) return 0;
  if (rr <= 24) return 2;
  return 3;
}

/** SpO2 scale 1: the default, independent of supplemental oxygen (which scores separately). */
export function scoreSpo2Scale1(spo2: number): number {
  if (spo2 <= 91) return 3;
  if (spo2 <= 93) return 2;
  if (spo2 <= 95) return 1;
  return 0;
}

/**
 * SpO2 scale 2: only for patients with confirmed hypercapnic respiratory failure, target 88-92 %.
 * At >= 93 % the score depends on whether the patient is on oxygen (over-oxygenation is harmful).
 */
export function scoreSpo2Scale2(spo2: number, onOxygen: boolean): number {
  if (spo2 <= 83) return 3;
  if (spo2 <= 85) return 2;
  if (spo2 <= 87) return 1;
  if (spo2 <= 92 || !onOxygen) return 0;
  if (spo2 <= 94) return 1;
  if (spo2 <= 96) return 2;
  return 3;
}

export function scoreSupplementalOxygen(onOxygen: boolean): number {
  return onOxygen ? 2 : 0;
}

export function scoreSystolicBp(sbp: number): number {
  if (sbp <= 90) return 3;
  if (sbp <= 100) return 2;
  if (sbp <= 110) return 1;
  if (sbp <= 219) return 0;
  return 3;
}

export function scoreHeartRate(hr: number): number {
  if (hr <= 40) return 3;
  if (hr <= 50) return 1;
  if (hr <= 90) return 0;
  if (hr <= 110) return 1;
  if (hr <= 130) return 2;
  return 3;
}

export function scoreConsciousness(acvpu: number): number {
  return acvpu === Acvpu.alert ? 0 : 3;
}

/** Temperature in tenths of a degree Celsius (36.5 Cel = 365). */
export function scoreTemperature(deciCelsius: number): number {
  if (deciCelsius <= 350) return 3;
  if (deciCelsius <= 360) return 1;
  if (deciCelsius <= 380) return 0;
  if (deciCelsius <= 390) return 1;
  return 2;
}

/** RCP chart 2: aggregate 7+ high, 5-6 medium, a 3 in any single parameter low-medium, else low. */
export function riskBand(total: number, anySingleThree: boolean): RiskBand {
  if (total >= 7) return RiskBand.high;
  if (total >= 5) return RiskBand.medium;
  if (anySingleThree) return RiskBand.lowMedium;
  return RiskBand.low;
}

export interface TimedValue {
  value: number;
  /** Measurement time, ms since the Unix epoch. */
  measuredAt: number;
}

export type News2Inputs = Partial<Record<News2Parameter, TimedValue>>;

export interface News2Result {
  total: number;
  band: RiskBand;
  /** Per-parameter sub-scores, only for parameters that were present. */
  subscores: Partial<Record<News2Parameter, number>>;
  /** Parameters with no value: the score is a lower bound and says so. */
  missing: News2Parameter[];
  /** Age (ms at `now`) of the oldest value used, 0 when none were used. */
  oldestAgeMs: number;
  /** Age (ms at `now`) of each value used. */
  agesMs: Partial<Record<News2Parameter, number>>;
}

/**
 * Scores the latest values. A missing supplemental-oxygen value is treated as "on air" for the SpO2
 * scale-2 sub-score (the chart's default) and is still listed as missing.
 */
export function computeNews2(
  inputs: News2Inputs,
  now: number,
  opts: { spo2Scale2?: boolean } = {},
): News2Result {
  const subscores: Partial<Record<News2Parameter, number>> = {};
  const agesMs: Partial<Record<News2Parameter, number>> = {};
  const missing: News2Parameter[] = [];
  const onOxygen = inputs.supplementalOxygen?.value === 1;
  let total = 0;
  let anyThree = false;
  let oldestAgeMs = 0;
  for (const { param } of NEWS2_PARAMETERS) {
    const input = inputs[param];
    if (!input) {
      missing.push(param);
      continue;
    }
    const v = input.value;
    let s: number;
    switch (param) {
      case 'respiratoryRate':
        s = scoreRespiratoryRate(v);
        break;
      case 'spo2':
        s = opts.spo2Scale2 ? scoreSpo2Scale2(v, onOxygen) : scoreSpo2Scale1(v);
        break;
      case 'supplementalOxygen':
        s = scoreSupplementalOxygen(v === 1);
        break;
      case 'systolicBp':
        s = scoreSystolicBp(v);
        break;
      case 'heartRate':
        s = scoreHeartRate(v);
        break;
      case 'consciousness':
        s = scoreConsciousness(v);
        break;
      case 'temperature':
        s = scoreTemperature(v);
        break;
    }
    subscores[param] = s;
    total += s;
    if (s === 3) anyThree = true;
    const age = Math.max(0, now - input.measuredAt);
    agesMs[param] = age;
    if (age > oldestAgeMs) oldestAgeMs = age;
  }
  return { total, band: riskBand(total, anyThree), subscores, missing, oldestAgeMs, agesMs };
}
