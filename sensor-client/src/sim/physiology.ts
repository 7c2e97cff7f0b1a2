// Virtual-patient physiology: a pure function of (patient profile, time) -> one set of vital signs, so
// the same seed gives the same readings on any machine, in any order of evaluation, with no network.
//
// Model, per vital sign:  value(t) = baseline + circadian(t) + slow drift(t) + episode(t) + noise(t)
// - baseline: drawn per patient from adult resting ranges (NEWS2 scores 0 at baseline by construction);
// - circadian: a 24 h cosine, trough in the early morning (core temperature and heart rate are lowest
//   around 04:00 and highest in the late afternoon; Refinetti & Menaker 1992, Chronobiol Int 9:75);
// - drift: smooth value noise (knots every 10 min, cosine-interpolated), the slow wander of real vitals;
// - episodes: scripted sepsis-like deterioration (Sepsis-3 / qSOFA picture: tachycardia, tachypnoea,
//   hypotension, desaturation, fever), ramping in with a smoothstep, plateauing, ramping out;
// - noise: white measurement noise per reading;
// - artefacts: a slipped SpO2 probe reads falsely low for tens of seconds (a known pulse-oximetry
//   artefact); it is flagged in the sample so tests and dashboards can tell it from a real desaturation.
// Values are rounded to the wire units of consensus/src/vitals/kinds.ts and clamped to the plausible
// range (a real monitor clamps to its measuring range).

import { ReadingKind, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import { gaussian, hash32, Rng, unit } from './prng.ts';

export const DAY_MS = 86_400_000;
const MINUTE = 60_000;

export interface Episode {
  /** Epoch ms when the deterioration starts. */
  startMs: number;
  /** Ramp-in duration. */
  onsetMs: number;
  /** Time at full severity. */
  plateauMs: number;
  /** Ramp-out duration (treatment working). */
  recoveryMs: number;
  /** 0..1; 1 is frank septic shock in this model. */
  severity: number;
}

export interface Baseline {
  heartRate: number;
  respiratoryRate: number;
  systolicBp: number;
  diastolicBp: number;
  spo2: number;
  /** Degrees Celsius. */
  temperature: number;
}

export interface PatientProfile {
  seed: number;
  index: number;
  baseline: Baseline;
  /** Shift of this patient's circadian rhythm, ms. */
  circadianShiftMs: number;
  episodes: Episode[];
  /** Probability that a given 10-minute slot contains an SpO2 probe slip. */
  probeSlipRate: number;
}

export interface VitalSample {
  measuredAt: number;
  /** Wire units (kinds.ts): /min, %, mm[Hg], tenths of Cel. */
  heartRate: number;
  spo2: number;
  systolicBp: number;
  diastolicBp: number;
  temperature: number;
  respiratoryRate: number;
  /** Deterioration severity at this instant, 0..1 (ground truth for tests). */
  severity: number;
  /** True when the SpO2 value is a probe-slip artefact rather than physiology. */
  spo2ProbeSlip: boolean;
}

/** A reading in the SDK's own terms: wire-unit integer value of a kind, at a measurement time. */
export interface Reading {
  kind: ReadingKind;
  value: number;
  measuredAt: number;
}

/** Per unit of severity: the change each vital sign undergoes in a sepsis-like episode. */
export const SEPSIS_EFFECT = {
  heartRate: 50,
  respiratoryRate: 13,
  systolicBp: -42,
  diastolicBp: -22,
  spo2: -9,
  temperature: 2.3,
} as const;

const CIRCADIAN_AMPLITUDE = {
  heartRate: 5,
  respiratoryRate: 1,
  systolicBp: 6,
  diastolicBp: 4,
  temperature: 0.3,
};
/** Peak of the circadian cosine: 17:00 (trough 05:00). */
const CIRCADIAN_PEAK_MS = 17 * 3_600_000;

const CHANNEL = { heartRate: 1, respiratoryRate: 2, systolicBp: 3, diastolicBp: 4, spo2: 5, temperature: 6 };
type Channel = keyof typeof CHANNEL;

const DRIFT_SD = {
  heartRate: 4,
  respiratoryRate: 1.2,
  systolicBp: 5,
  diastolicBp: 3,
  spo2: 0.6,
  temperature: 0.12,
};
const NOISE_SD = {
  heartRate: 1.5,
  respiratoryRate: 0.7,
  systolicBp: 3,
  diastolicBp: 2,
  spo2: 0.5,
  temperature: 0.05,
};

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export interface PatientOptions {
  episodes?: Episode[];
  probeSlipRate?: number;
}

/** Draws a patient's baseline from the seed. Baselines are chosen so NEWS2 is 0 at rest. */
export function makePatient(seed: number, index: number, opts: PatientOptions = {}): PatientProfile {
  const rng = new Rng(seed, 0x10000 + index);
  const systolicBp = clamp(rng.normal(124, 10), 112, 150);
  return {
    seed,
    index,
    baseline: {
      heartRate: clamp(rng.normal(72, 7), 58, 84),
      respiratoryRate: clamp(rng.normal(15, 1.5), 13, 18),
      systolicBp,
      diastolicBp: clamp(systolicBp * rng.range(0.58, 0.68), 62, 92),
      spo2: clamp(rng.normal(97.5, 0.8), 96.5, 99),
      temperature: clamp(rng.normal(36.7, 0.15), 36.4, 37.1),
    },
    circadianShiftMs: rng.range(-1.5, 1.5) * 3_600_000,
    episodes: opts.episodes ?? [],
    probeSlipRate: opts.probeSlipRate ?? 0.05,
  };
}

export interface EpisodeScript {
  /** Fraction of patients who deteriorate, 0..1. */
  fraction: number;
  /** Episodes start uniformly in [fromMs, toMs) (epoch ms). */
  fromMs: number;
  toMs: number;
  onsetMs?: number;
  plateauMs?: number;
  recoveryMs?: number;
}

/** Deterministic per-patient episode script: which patients deteriorate, and when. */
export function scriptEpisodes(seed: number, index: number, script: EpisodeScript): Episode[] {
  if (unit(seed, index, 0xe1) >= script.fraction) return [];
  return [
    {
      startMs: Math.floor(script.fromMs + unit(seed, index, 0xe2) * (script.toMs - script.fromMs)),
      onsetMs: script.onsetMs ?? 20 * MINUTE,
      plateauMs: script.plateauMs ?? 30 * MINUTE,
      recoveryMs: script.recoveryMs ?? 40 * MINUTE,
      severity: 0.75 + 0.25 * unit(seed, index, 0xe3),
    },
  ];
}

function smoothstep(x: number): number {
  const c = clamp(x, 0, 1);
  return c * c * (3 - 2 * c);
}

/** Severity of one episode at time t. */
export function episodeSeverity(e: Episode, t: number): number {
  if (t <= e.startMs) return 0;
  const a = t - e.startMs;
  if (a < e.onsetMs) return e.severity * smoothstep(a / e.onsetMs);
  const b = a - e.onsetMs;
  if (b < e.plateauMs) return e.severity;
  const c = b - e.plateauMs;
  if (c < e.recoveryMs) return e.severity * (1 - smoothstep(c / e.recoveryMs));
  return 0;
}

/** Smooth 1-D value noise with unit variance-ish: gaussian knots every `periodMs`, cosine-interpolated. */
function valueNoise(p: PatientProfile, channel: number, t: number, periodMs: number): number {
  const k = Math.floor(t / periodMs);
  const f = (t - k * periodMs) / periodMs;
  const w = (1 - Math.cos(Math.PI * f)) / 2;
  const a = gaussian(p.seed, p.index, channel, periodMs, k);
  const b = gaussian(p.seed, p.index, channel, periodMs, k + 1);
  return a * (1 - w) + b * w;
}

const SLIP_SLOT_MS = 10 * MINUTE;

/** Whether a probe slip is in progress at t (at most one per 10-minute slot, lasting 20-120 s). */
export function probeSlipAt(p: PatientProfile, t: number): boolean {
  const slot = Math.floor(t / SLIP_SLOT_MS);
  if (unit(p.seed, p.index, 0x51, slot) >= p.probeSlipRate) return false;
  const durationMs = 20_000 + unit(p.seed, p.index, 0x52, slot) * 100_000;
  const startMs = slot * SLIP_SLOT_MS + unit(p.seed, p.index, 0x53, slot) * (SLIP_SLOT_MS - durationMs);
  return t >= startMs && t < startMs + durationMs;
}

function wire(kind: ReadingKind, physical: number): number {
  const spec = readingKindSpec(kind)!;
  return clamp(Math.round(physical * spec.scale), spec.min, spec.max);
}

/** The patient's vital signs at epoch-ms time t. Pure: same profile and t, same sample. */
export function sampleVitals(p: PatientProfile, t: number): VitalSample {
  let severity = 0;
  for (const e of p.episodes) severity = Math.max(severity, episodeSeverity(e, t));
  const phase = (2 * Math.PI * (t - CIRCADIAN_PEAK_MS - p.circadianShiftMs)) / DAY_MS;
  const circ = Math.cos(phase);
  const value = (ch: Channel): number => {
    const base = p.baseline[ch];
    const amp = ch === 'spo2' ? 0 : CIRCADIAN_AMPLITUDE[ch];
    const drift = DRIFT_SD[ch] * valueNoise(p, CHANNEL[ch], t, 10 * MINUTE);
    // Sick patients' vitals are less stable: noise grows with severity.
    const noise = NOISE_SD[ch] * (1 + severity) * gaussian(p.seed, p.index, CHANNEL[ch], 0x40, t);
    return base + amp * circ + drift + SEPSIS_EFFECT[ch] * severity + noise;
  };
  // SpO2 cannot exceed 100 % whatever the drift: saturate before rounding.
  let spo2 = Math.min(100, value('spo2'));
  const slip = probeSlipAt(p, t);
  if (slip) spo2 = 62 + 20 * unit(p.seed, p.index, 0x54, t);
  return {
    measuredAt: t,
    heartRate: wire(ReadingKind.heartRate, value('heartRate')),
    spo2: wire(ReadingKind.spo2, spo2),
    systolicBp: wire(ReadingKind.systolicBp, value('systolicBp')),
    diastolicBp: wire(ReadingKind.diastolicBp, value('diastolicBp')),
    temperature: wire(ReadingKind.temperature, value('temperature')),
    respiratoryRate: wire(ReadingKind.respiratoryRate, value('respiratoryRate')),
    severity,
    spo2ProbeSlip: slip,
  };
}

/** The device-reportable readings of a sample, in kind order. */
export function sampleToReadings(s: VitalSample): Reading[] {
  const t = s.measuredAt;
  return [
    { kind: ReadingKind.heartRate, value: s.heartRate, measuredAt: t },
    { kind: ReadingKind.spo2, value: s.spo2, measuredAt: t },
    { kind: ReadingKind.systolicBp, value: s.systolicBp, measuredAt: t },
    { kind: ReadingKind.diastolicBp, value: s.diastolicBp, measuredAt: t },
    { kind: ReadingKind.temperature, value: s.temperature, measuredAt: t },
    { kind: ReadingKind.respiratoryRate, value: s.respiratoryRate, measuredAt: t },
  ];
}

/** A stable 32-bit identity for a simulated patient, e.g. to derive its device key. */
export function patientTag(seed: number, index: number): number {
  return hash32(seed, index, 0x7a);
}
