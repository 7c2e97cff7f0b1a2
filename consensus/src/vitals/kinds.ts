// Vital-sign reading kinds, their UCUM units, fixed-point scales and physiologically plausible ranges.
// Shared by the state machine (validation at execution), the sensor simulator and the dashboard, so it
// is pure data plus pure functions. The wire format has no floats (canonical CBOR, ADR 0040): every
// value is an integer in the unit below multiplied by `scale` (temperature 36.5 Cel travels as 365).

/** Stable numeric codes used on the wire; never renumber. */
export const ReadingKind = {
  heartRate: 1,
  spo2: 2,
  systolicBp: 3,
  diastolicBp: 4,
  temperature: 5,
  respiratoryRate: 6,
  /** 1 = on supplemental oxygen, 0 = on air. Recorded by a clinician (recordObservation). */
  supplementalOxygen: 7,
  /** ACVPU, see `Acvpu`. Recorded by a clinician (recordObservation). */
  consciousness: 8,
} as const;
export type ReadingKind = (typeof ReadingKind)[keyof typeof ReadingKind];

/** ACVPU scale (RCP NEWS2 2017, chart 1): Alert, new Confusion, Voice, Pain, Unresponsive. */
export const Acvpu = { alert: 0, confusion: 1, voice: 2, pain: 3, unresponsive: 4 } as const;
export type Acvpu = (typeof Acvpu)[keyof typeof Acvpu];

export interface ReadingKindSpec {
  readonly kind: ReadingKind;
  /** Short stable name; the access-control category is `vitals.<name>`. */
  readonly name: string;
  /** UCUM case-sensitive unit code (https://ucum.org/ucum). */
  readonly unit: string;
  /** Wire value = physical value x scale. */
  readonly scale: number;
  /** Inclusive plausible range, in wire units. Outside it the reading is rejected as a sensor fault. */
  readonly min: number;
  readonly max: number;
  /** Whether a wearable may report it (submitReadings); otherwise only a clinician (recordObservation). */
  readonly deviceReportable: boolean;
}

// Plausible ranges are deliberately wide: they reject sensor faults and unit mix-ups (a temperature in
// Fahrenheit, SpO2 as a fraction), not abnormal physiology, which is what alerts are for.
const SPECS: readonly ReadingKindSpec[] = [
  { kind: 1, name: 'heartRate', unit: '/min', scale: 1, min: 20, max: 300, deviceReportable: true },
  { kind: 2, name: 'spo2', unit: '%', scale: 1, min: 50, max: 100, deviceReportable: true },
  { kind: 3, name: 'systolicBp', unit: 'mm[Hg]', scale: 1, min: 40, max: 300, deviceReportable: true },
  { kind: 4, name: 'diastolicBp', unit: 'mm[Hg]', scale: 1, min: 20, max: 200, deviceReportable: true },
  { kind: 5, name: 'temperature', unit: 'Cel', scale: 10, min: 250, max: 450, deviceReportable: true },
  { kind: 6, name: 'respiratoryRate', unit: '/min', scale: 1, min: 1, max: 80, deviceReportable: true },
  { kind: 7, name: 'supplementalOxygen', unit: '{bool}', scale: 1, min: 0, max: 1, deviceReportable: false },
  { kind: 8, name: 'consciousness', unit: '{ACVPU}', scale: 1, min: 0, max: 4, deviceReportable: false },
];

export const READING_KINDS: readonly ReadingKind[] = SPECS.map((s) => s.kind);

export function readingKindSpec(kind: number): ReadingKindSpec | undefined {
  return Number.isInteger(kind) && kind >= 1 && kind <= SPECS.length ? SPECS[kind - 1] : undefined;
}

/** The access-control data category of a reading kind, e.g. `vitals.heartRate`. */
export function readingCategory(kind: ReadingKind): string {
  return 'vitals.' + SPECS[kind - 1]!.name;
}

export type ReadingProblem = 'unknownKind' | 'wrongUnit' | 'notInteger' | 'implausible';

/** Why a (kind, value, unit) triple is unacceptable, or undefined when it is fine. */
export function checkReading(kind: number, value: number, unit: string): ReadingProblem | undefined {
  const spec = readingKindSpec(kind);
  if (!spec) return 'unknownKind';
  if (unit !== spec.unit) return 'wrongUnit';
  if (!Number.isSafeInteger(value)) return 'notInteger';
  if (value < spec.min || value > spec.max) return 'implausible';
  return undefined;
}
