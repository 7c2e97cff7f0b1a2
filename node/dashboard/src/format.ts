// Plain-language formatting of keys, times, vital signs and audit events.
import {
  READING_KINDS,
  RISK_BAND_NAMES,
  readingCategory,
  readingKindSpec,
} from '@vigil/consensus/vitals/index.ts';

export const shortKey = (hex: string): string => `${hex.slice(0, 8)}…${hex.slice(-4)}`;

export function time(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** A configured duration in words: "15 minutes", "1 hour 30 minutes", "4 seconds". */
export function durationText(ms: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const s = Math.round(ms / 1000);
  if (s < 60) return unit(s, 'second');
  const h = Math.floor(s / 3600);
  const m = Math.round((s % 3600) / 60);
  if (h === 0) return unit(m, 'minute');
  return m === 0 ? unit(h, 'hour') : `${unit(h, 'hour')} ${unit(m, 'minute')}`;
}

/**
 * When an alert was raised: the time of day alone is ambiguous for an alert left open since yesterday,
 * so another day's alert carries its date, and every one its age (which no time zone can misread).
 */
export function raisedText(raisedAt: number, now: number): string {
  const sameDay = new Date(raisedAt).toDateString() === new Date(now).toDateString();
  return `raised ${sameDay ? clock(raisedAt) : time(raisedAt)} (${ago(raisedAt, now)})`;
}

/** Open alerts shown per panel; the panel asks for one more to know whether there are more. */
export const ALERT_LIMIT = 50;

/** The open-alerts heading: when more are open than shown, it says so instead of a wrong count. */
export function openAlertsHeading(count: number, limit = ALERT_LIMIT): string {
  return count > limit
    ? `Open alerts: more than ${limit}, the newest ${limit} shown (acknowledge to see older ones)`
    : `Open alerts (${count})`;
}

export const KIND_LABELS: Record<number, string> = {
  1: 'Heart rate',
  2: 'SpO₂',
  3: 'Systolic BP',
  4: 'Diastolic BP',
  5: 'Temperature',
  6: 'Respiratory rate',
  7: 'Supplemental O₂',
  8: 'Consciousness',
};

const UNIT_LABELS: Record<string, string> = {
  '/min': '/min',
  '%': '%',
  'mm[Hg]': 'mmHg',
  Cel: '°C',
  '{bool}': '',
  '{ACVPU}': '',
};
const ACVPU = ['Alert', 'Confusion', 'Voice', 'Pain', 'Unresponsive'];

/** A wire value in its physical unit (temperature travels ×10, ADR 0040). */
export function physical(kind: number, value: number): number {
  return value / (readingKindSpec(kind)?.scale ?? 1);
}

export function vital(kind: number, value: number): string {
  const spec = readingKindSpec(kind);
  if (!spec) return String(value);
  if (kind === 7) return value ? 'on oxygen' : 'on air';
  if (kind === 8) return ACVPU[value] ?? String(value);
  const v = physical(kind, value);
  return `${spec.scale > 1 ? v.toFixed(1) : v} ${UNIT_LABELS[spec.unit] ?? spec.unit}`.trim();
}

export const NEWS2_PARAM_LABELS: Record<string, string> = {
  respiratoryRate: 'respiratory rate',
  spo2: 'SpO₂',
  supplementalOxygen: 'supplemental oxygen',
  systolicBp: 'systolic BP',
  heartRate: 'heart rate',
  consciousness: 'consciousness',
  temperature: 'temperature',
};

export function bandName(band: unknown): string {
  if (typeof band === 'number') return RISK_BAND_NAMES[band] ?? String(band);
  if (typeof band === 'string') return band;
  return 'unknown';
}

/** A device-reported value older than this is flagged: the same gap at which a chart's line breaks. */
export const READING_STALE_MS = 5 * 60_000;
/** A NEWS2 whose oldest input is older than this is flagged as not describing the patient now. */
export const NEWS2_STALE_MS = 60 * 60_000;
const NEWS2_PARAM_COUNT = Object.keys(NEWS2_PARAM_LABELS).length;

/** The fields of `GET /v1/patients/{p}/news2` that the panel shows. */
export interface News2Score {
  total: number | null;
  band: number | null;
  missing: string[];
  oldestAgeMs: number | null;
  spo2Scale2?: boolean;
}

export interface News2Display {
  /** The score as shown: `5`, `≥ 2` when parameters are missing, `—` without data. */
  total: string;
  /** CSS class suffix: a risk band, or `none` for a score that must not reassure. */
  band: 'low' | 'lowmedium' | 'medium' | 'high' | 'none';
  /** The band in words, never colour alone: `medium risk`, `at least low risk (incomplete)`, `no data`. */
  label: string;
  /** Why the score is partial or old, and the SpO₂ scale in use. */
  notes: string[];
}

/**
 * How a NEWS2 is shown. The node scores whatever latest values exist, however old, and counts a missing
 * parameter as 0: a patient with no readings at all scores 0 "low". RCP 2017 needs all seven parameters,
 * so a partial score is a lower bound and says so, and neither a partial nor an old "low" is painted the
 * reassuring green; a higher band keeps its colour (the risk is at least that).
 */
export function news2Display(n: News2Score): News2Display {
  const missing = n.missing ?? [];
  const notes: string[] = [];
  if (n.total === null || n.band === null || missing.length >= NEWS2_PARAM_COUNT) {
    return { total: '—', band: 'none', label: 'no data', notes: ['No values to score.'] };
  }
  const name = bandName(n.band);
  const cls = name.replace(/[^a-z]/g, '') as News2Display['band'];
  const incomplete = missing.length > 0;
  const stale = (n.oldestAgeMs ?? 0) > NEWS2_STALE_MS;
  if (incomplete) notes.push(`Missing: ${missing.map((m) => NEWS2_PARAM_LABELS[m] ?? m).join(', ')}.`);
  if (n.oldestAgeMs !== null && n.oldestAgeMs > 0) {
    notes.push(`${stale ? 'STALE: ' : ''}oldest value ${ago(0, n.oldestAgeMs)}.`);
  }
  if (n.spo2Scale2) notes.push('SpO₂ scale 2.');
  const label = `${incomplete ? 'at least ' : ''}${name} risk${incomplete ? ' (incomplete)' : ''}${stale ? ' (stale)' : ''}`;
  return {
    total: incomplete ? `≥ ${n.total}` : String(n.total),
    band: (incomplete || stale) && cls === 'low' ? 'none' : cls,
    label,
    notes,
  };
}

/** The age line under a latest value, flagged when a device-reported kind has gone quiet. */
export function readingAge(kind: number, measuredAt: number, now: number): { text: string; stale: boolean } {
  const stale = (readingKindSpec(kind)?.deviceReportable ?? false) && now - measuredAt > READING_STALE_MS;
  return { text: `${stale ? 'STALE: ' : ''}${ago(measuredAt, now)}`, stale };
}

export const PURPOSE_LABELS: Record<number, string> = { 1: 'treatment', 2: 'research', 3: 'emergency' };

/** An alert cause such as `threshold.high.heartRate` or `news2.high`, in words. */
export function alertCause(cause: string, kind?: number | null, band?: number | null): string {
  if (cause === 'news2') return `NEWS2 risk rose to ${bandName(band)}`;
  const t = /^threshold\.(low|high)\.(\w+)$/.exec(cause);
  if (t) {
    const label = kind ? KIND_LABELS[kind] : t[2];
    return `${label} ${t[1] === 'high' ? 'above' : 'below'} its threshold`;
  }
  return cause;
}

export const REQUEST_ERRORS: Record<string, string> = {
  NO_GRANT: 'This patient has not granted you access.',
  GRANT_EXPIRED: 'Your access to this patient has expired.',
  PURPOSE_NOT_GRANTED: 'Your grant does not cover this purpose.',
  SCOPE_NOT_GRANTED: 'Your grant does not cover this data.',
  NO_EMERGENCY_ACCESS: 'You have no open emergency access to this patient.',
  UNKNOWN_PATIENT: 'No patient is registered with this key.',
  UNKNOWN_REQUESTER: 'Your key is not enrolled as a clinician on this network.',
  REQUESTER_SUSPENDED: 'Your key is suspended.',
  PATIENT_ONLY: 'Only the patient or a guardian can see this.',
  REQUEST_EXPIRED: 'Your clock differs from the node clock by more than a minute.',
  AUDIT_BACKLOG:
    'Not shown: the node cannot record this read in the audit trail yet (too many reads at once). It will retry.',
};

const CATEGORY_LABELS: Record<string, string> = {
  '*': 'everything',
  'vitals.*': 'all vital signs',
  alerts: 'alerts',
  ...Object.fromEntries(READING_KINDS.map((k) => [readingCategory(k), KIND_LABELS[k]!.toLowerCase()])),
};

/** A data category or scope (`vitals.heartRate`, `vitals.*`, `alerts`, `*`) in words. */
export function categoryLabel(c: string): string {
  return CATEGORY_LABELS[c] ?? c;
}

export function categoryList(cs: readonly string[]): string {
  return cs.map(categoryLabel).join(', ');
}
