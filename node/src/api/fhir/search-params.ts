// FHIR search parameter parsing (https://hl7.org/fhir/R4/search.html): date prefixes and precision,
// reference and token values, paging tokens. Every value is client input: bounded, typed errors.
import { ApiError } from '../problem.ts';

const PREFIXES = ['eq', 'ge', 'gt', 'le', 'lt'] as const;
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The instant interval [start, end) a FHIR date/dateTime value denotes at its precision. */
export function dateInterval(v: string): [number, number] {
  const m = DATE.exec(v);
  if (!m)
    throw new ApiError(
      400,
      'BAD_SEARCH_PARAMETER',
      'date: YYYY, YYYY-MM, YYYY-MM-DD or a dateTime expected',
      v,
    );
  const [, y, mo, d, hh, , ss, frac, tz] = m;
  const Y = Number(y);
  if (mo === undefined) return [Date.UTC(Y, 0, 1), Date.UTC(Y + 1, 0, 1)];
  const M = Number(mo) - 1;
  if (d === undefined) return [Date.UTC(Y, M, 1), Date.UTC(Y, M + 1, 1)];
  const D = Number(d);
  if (hh === undefined) return [Date.UTC(Y, M, D), Date.UTC(Y, M, D + 1)];
  if (tz === undefined)
    throw new ApiError(400, 'BAD_SEARCH_PARAMETER', 'date: a time needs a timezone (Z or +hh:mm)', v);
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new ApiError(400, 'BAD_SEARCH_PARAMETER', 'date: not a valid instant', v);
  const width = ss === undefined ? 60_000 : frac === undefined ? 1000 : 1;
  return [t, t + width];
}

/** Intersects the `date` parameters into one [from, to) range of ms. */
export function dateRange(values: string[]): { from: number; to: number } {
  let from = 0;
  let to = Number.MAX_SAFE_INTEGER;
  for (const raw of values) {
    const p = PREFIXES.find((x) => raw.startsWith(x));
    if (raw.length > 64) throw new ApiError(400, 'BAD_SEARCH_PARAMETER', 'date: too long');
    if (!p && /^[a-z]{2}/.test(raw)) {
      throw new ApiError(400, 'BAD_SEARCH_PARAMETER', 'date: supported prefixes are eq, ge, gt, le, lt', raw);
    }
    const [start, end] = dateInterval(p ? raw.slice(2) : raw);
    switch (p ?? 'eq') {
      case 'eq':
        from = Math.max(from, start);
        to = Math.min(to, end);
        break;
      case 'ge':
        from = Math.max(from, start);
        break;
      case 'gt':
        from = Math.max(from, end);
        break;
      case 'lt':
        to = Math.min(to, start);
        break;
      case 'le':
        to = Math.min(to, end);
        break;
    }
  }
  return { from, to: Math.max(from, to) };
}

/** `Patient/<hex>` or `<hex>` (a patient is an ed25519 public key). */
export function patientRef(v: string | undefined): string {
  if (v === undefined) throw new ApiError(400, 'MISSING_PATIENT', 'the patient search parameter is required');
  const m = /^(?:Patient\/)?([0-9a-f]{64})$/.exec(v);
  if (!m) throw new ApiError(400, 'BAD_SEARCH_PARAMETER', 'patient: Patient/<64 hex> expected', v);
  return m[1]!;
}

/** Observation paging token: resume at measurement time `at`, skipping `skip` entries at that time. */
export function encodePage(at: number, skip: number): string {
  return `${at}.${skip}`;
}

export function decodePage(v: string | undefined): { at: number; skip: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,16})\.(\d{1,4})$/.exec(v);
  if (!m) throw new ApiError(400, 'BAD_SEARCH_PARAMETER', '_page: a token from a next link expected', v);
  return { at: Number(m[1]), skip: Number(m[2]) };
}

/**
 * AuditEvent paging token: the block height a `next` link resumes at. Digits alone are not enough: a
 * 16-digit value can pass 2^53 - 1, where Number() rounds and the index key writer refuses the height.
 */
export function decodeHeightPage(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new ApiError(400, 'BAD_SEARCH_PARAMETER', '_page: a height from a next link expected', v);
  return n;
}
