// The validator's quiet period before it asks for a block citing the chain's newest state (ADR 0125),
// from the environment: operators and tests tune it; the policy itself is consensus/src/pbft/state-citation.ts.
import { DEFAULT_CITE_QUIET_MS } from '@vigil/consensus/pbft/state-citation.ts';

/** VIGIL_CITE_QUIET_MS (operators and tests); unset: the default. */
export function citeQuietMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.VIGIL_CITE_QUIET_MS;
  if (v === undefined || v === '') return DEFAULT_CITE_QUIET_MS;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new StateCitationError(`VIGIL_CITE_QUIET_MS must be a number >= 0, not ${v}`);
  return n;
}

export class StateCitationError extends Error {
  readonly code = 'INVALID_CITE_QUIET_MS';
  constructor(message: string) {
    super(message);
    this.name = 'StateCitationError';
  }
}
