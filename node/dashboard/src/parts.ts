// A panel loads NEWS2, alerts and each vital sign as separate reads, each decided by the access rule on
// its own data category (docs/state-machine.md, "Access rule"). A grant can cover some categories and
// not others (the patient's consent form offers each vital sign and alerts separately), so one refused
// part must not blank the panel, nor offer break-glass for a record the clinician can largely see.
// DOM-free, unit-tested.
import { ApiProblem } from './client.ts';
import { REQUEST_ERRORS } from './format.ts';

export type Part<T> = { ok: true; value: T } | { ok: false; error: unknown };

export async function settle<T>(p: Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

const refused = (e: unknown): e is ApiProblem => e instanceof ApiProblem && e.status === 403;

export type PanelOutcome =
  /** At least one part was read: show the panel, each failed part with its own reason. */
  | { kind: 'partial' }
  /** The access rule refused every part: the "no access" state (and break-glass). */
  | { kind: 'refused'; problem: ApiProblem }
  /** Nothing was read and not because of the access rule (node down, 5xx): say so. */
  | { kind: 'failed'; error: unknown };

/** What the panel shows, given its parts in the order read (NEWS2 first: its refusal names the reason). */
export function panelOutcome(parts: readonly Part<unknown>[]): PanelOutcome {
  if (parts.some((p) => p.ok)) return { kind: 'partial' };
  const errors = parts.map((p) => (p.ok ? undefined : p.error));
  if (errors.length > 0 && errors.every(refused))
    return { kind: 'refused', problem: errors[0] as ApiProblem };
  return { kind: 'failed', error: errors.find((e) => !refused(e)) };
}

/** Why one part is not shown, in words (the node's code kept for support). */
export function partError(e: unknown): string {
  if (e instanceof ApiProblem) {
    if (e.code === 'SCOPE_NOT_GRANTED') return 'not covered by your access';
    return REQUEST_ERRORS[e.code] ?? `${e.message} (${e.code})`;
  }
  return e instanceof Error ? e.message : String(e);
}
