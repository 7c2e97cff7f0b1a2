// What every route group needs: the validator, the read view, the request authenticator, the access
// recorder and the metrics. Built once per API instance by server.ts.
import { fromHex } from '@vigil/consensus/wire';
import type { FastifyRequest } from 'fastify';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { AccessDenied, type AccessBasis, type ReadView } from '../state-machine/index.ts';
import type { Validator } from '../validator/validator.ts';
import type { AccessRecorder } from './access-recorder.ts';
import type { ApiMetrics } from './metrics.ts';
import { ApiError } from './problem.ts';
import { type AuthenticatedCaller, authenticate, type ReplayGuard } from './signed-request.ts';

export interface ApiContext {
  validator: Validator;
  chainId: string;
  view: ReadView;
  guard: ReplayGuard;
  recorder: AccessRecorder;
  metrics: ApiMetrics;
  now: () => number;
}

const EMPTY = new Uint8Array(0);
export const HEX32 = /^[0-9a-f]{64}$/;

/** The caller of a signed request (throws AuthError). */
export function caller(ctx: ApiContext, req: FastifyRequest): AuthenticatedCaller {
  return authenticate(
    { method: req.method, rawTarget: req.raw.url ?? req.url, headers: req.headers, rawBody: EMPTY },
    ctx.chainId,
    ctx.guard,
    fastVerifier,
    ctx.now(),
  );
}

/** A 32-byte key from a route or query parameter (schemas already check the pattern). */
export function key32(hex: string, what: string): Uint8Array {
  if (!HEX32.test(hex)) throw new ApiError(400, 'BAD_KEY', `${what} must be 64 lower-case hex characters`);
  return fromHex(hex);
}

/**
 * Records a successful read in the audit trail, unless the reader is the patient themself. Guardians,
 * grantees and break-glass readers are all recorded (docs/api.md, "Audit of reads").
 */
export function recordRead(
  ctx: ApiContext,
  who: AuthenticatedCaller,
  patient: Uint8Array,
  categories: string[],
  basis: AccessBasis,
): void {
  if (basis.via === 'self' || categories.length === 0) return;
  const read = { reader: who.key, patient, purpose: who.purpose as 1 | 2 | 3 };
  if (!ctx.recorder.admits(read)) {
    // Fail closed: data that cannot be put in the audit trail is not served (docs/api.md).
    throw new ApiError(
      503,
      'AUDIT_BACKLOG',
      'The audit trail is behind: patient data is not served until this read can be recorded',
      'too many reads awaiting their recordAccess transaction; retry shortly',
      1,
    );
  }
  ctx.recorder.record({
    reader: who.key,
    patient,
    categories,
    purpose: who.purpose as 1 | 2 | 3,
    readAt: ctx.now(),
  });
}

export { AccessDenied };
