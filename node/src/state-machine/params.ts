// Chain parameters: set at genesis, changed only by governance (setParameter), each with hard bounds so
// that even a 2f+1 quorum of organisations cannot, say, make break-glass access last a week.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ParamSpec {
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

export const PARAMS = {
  governanceTtlMs: {
    default: 7 * DAY,
    min: HOUR,
    max: 30 * DAY,
    doc: 'How long a proposal collects approvals',
  },
  readingMaxAgeMs: {
    default: 3 * DAY,
    min: 60_000,
    max: 30 * DAY,
    doc: 'Store-and-forward window: oldest measurement time accepted, before the block time',
  },
  readingMaxFutureMs: {
    default: 30_000,
    min: 0,
    max: 300_000,
    doc: 'Clock skew allowed for a measurement time after the block time',
  },
  maxEmergencyMs: { default: DAY, min: 60_000, max: DAY, doc: 'Longest break-glass access (hard cap 24 h)' },
  maxGrantMs: { default: 365 * DAY, min: HOUR, max: 5 * 365 * DAY, doc: 'Longest grant' },
  maxDeviceValidityMs: {
    default: 2 * 365 * DAY,
    min: DAY,
    max: 10 * 365 * DAY,
    doc: 'Longest device binding',
  },
  maxRotationOverlapMs: {
    default: DAY,
    min: 0,
    max: 7 * DAY,
    doc: 'Longest overlap of old and new device keys',
  },
  checkpointInterval: {
    default: 100,
    min: 1,
    max: 1_000_000,
    doc: 'PBFT checkpoint interval K; validator changes apply at a checkpoint height',
  },
} as const satisfies Record<string, ParamSpec>;

export type ParamName = keyof typeof PARAMS;
export type Params = Record<ParamName, number>;
export const PARAM_NAMES = Object.keys(PARAMS) as ParamName[];

export function isParamName(s: string): s is ParamName {
  return Object.hasOwn(PARAMS, s);
}

export function paramInRange(name: ParamName, value: number): boolean {
  const spec: ParamSpec = PARAMS[name];
  return Number.isSafeInteger(value) && value >= spec.min && value <= spec.max;
}

export function defaultParams(): Params {
  return Object.fromEntries(PARAM_NAMES.map((n) => [n, PARAMS[n].default])) as Params;
}

/** Fixed limits (not governed: they bound record sizes). */
export const LIMITS = {
  maxGuardians: 4,
  maxGrantsPerPatient: 64,
  maxEmergenciesPerPatient: 16,
  maxValidators: 128,
  maxOrganisations: 128,
} as const;
