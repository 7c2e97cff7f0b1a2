// A simulated ward: N patients from one seed, each with a device key and patient key derived from the
// seed (reproducible runs; a real device generates its key with generateSeed()), a scripted set of
// deterioration episodes, and NEWS2 computed from the latest sample with the state machine's own scorer.

import { computeNews2, type News2Result } from '@vigil/consensus/vitals/index.ts';
import { makePatient, type PatientProfile, scriptEpisodes, type VitalSample } from './physiology.ts';
import { Rng } from './prng.ts';

export interface SimPatient {
  index: number;
  profile: PatientProfile;
  /** 32-byte seeds (simulation only). */
  patientSeed: Uint8Array;
  deviceSeed: Uint8Array;
}

export interface CohortOptions {
  seed: number;
  patients: number;
  /** Simulation start, epoch ms. */
  startMs: number;
  /** Fraction of patients with a sepsis-like episode. */
  deteriorate: number;
  /** Episodes start between these offsets from the start, ms. */
  episodeFromMs: number;
  episodeToMs: number;
  onsetMs?: number;
  probeSlipRate?: number;
}

export function makeCohort(o: CohortOptions): SimPatient[] {
  return Array.from({ length: o.patients }, (_, index) => {
    const keys = new Rng(o.seed, 0x20000 + index);
    const script: Parameters<typeof scriptEpisodes>[2] = {
      fraction: o.deteriorate,
      fromMs: o.startMs + o.episodeFromMs,
      toMs: o.startMs + o.episodeToMs,
    };
    if (o.onsetMs !== undefined) script.onsetMs = o.onsetMs;
    const popts: Parameters<typeof makePatient>[2] = { episodes: scriptEpisodes(o.seed, index, script) };
    if (o.probeSlipRate !== undefined) popts.probeSlipRate = o.probeSlipRate;
    return {
      index,
      profile: makePatient(o.seed, index, popts),
      patientSeed: keys.bytes(32),
      deviceSeed: keys.bytes(32),
    };
  });
}

/** NEWS2 of a device sample, the patient on air and alert (a wearable cannot observe either). */
export function sampleNews2(s: VitalSample): News2Result {
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
