// Domain-separated signing payloads (docs/protocol.md §4, ADR 0004).
//
//   signingPayload(domain, chainId, payload) =
//       utf8(domain) || 0x00 || u8(len(utf8(chainId))) || utf8(chainId) || payload
//
// A signature made for one purpose (a device transaction, a PBFT COMMIT, an HTTP request) or for one
// chain can never verify for another: the domain string ends at the first 0x00 (domains contain none),
// the chain id is length-prefixed, and the payload is the rest. Two different (domain, chainId, payload)
// triples therefore never give the same bytes, and the construction is a few lines in any language.
import { WireError } from './errors.ts';
import { CHAIN_ID_PATTERN } from './limits.ts';

export const SigningDomain = {
  tx: 'vigil/tx/v1',
  consensus: 'vigil/pbft/v1',
  request: 'vigil/http/v1',
} as const;

export type SigningDomainName = (typeof SigningDomain)[keyof typeof SigningDomain];

const utf8 = new TextEncoder();

/** Throws WireError WRONG_TYPE unless `chainId` is 1..64 characters of [A-Za-z0-9._:-]. */
export function assertChainId(chainId: unknown): asserts chainId is string {
  if (typeof chainId !== 'string' || !CHAIN_ID_PATTERN.test(chainId)) {
    throw new WireError('WRONG_TYPE', 'chainId must be 1..64 characters of [A-Za-z0-9._:-]');
  }
}

export function signingPayload(domain: string, chainId: string, payload: Uint8Array): Uint8Array {
  const d = utf8.encode(domain);
  if (d.length === 0 || d.includes(0))
    throw new WireError('WRONG_TYPE', 'domain must be non-empty without NUL');
  assertChainId(chainId);
  const c = utf8.encode(chainId);
  const out = new Uint8Array(d.length + 2 + c.length + payload.length);
  out.set(d, 0);
  out[d.length] = 0x00;
  out[d.length + 1] = c.length;
  out.set(c, d.length + 2);
  out.set(payload, d.length + 2 + c.length);
  return out;
}
