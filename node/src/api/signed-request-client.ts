// Signing an HTTP request to a Vigil node (docs/api.md, "Signed requests"). Browser-safe: it imports
// only the pure wire module and uses no Node built-ins, so the dashboard can import or copy it as is.
//
// The signed bytes are
//   signingPayload('vigil/http/v1', chainId, utf8(canonicalRequest))
// with canonicalRequest the seven lines below joined by '\n' (no trailing newline):
//   METHOD            upper case, e.g. GET
//   PATH              the path exactly as sent on the request line (percent-encoding untouched)
//   QUERY             the raw query string after '?', exactly as sent ('' when there is none)
//   BODY_SHA256       lower-case hex SHA-256 of the raw body bytes (of the empty string for GET)
//   TIMESTAMP         ms since the Unix epoch, decimal, the x-vigil-timestamp header
//   NONCE             16..64 lower-case hex characters, the x-vigil-nonce header, never reused
//   PURPOSE           1 treatment, 2 research, 3 emergency, the x-vigil-purpose header
// The node checks the signature over the request line and body bytes it received, never over a
// re-serialisation of parsed values, so whatever a proxy or client library does to the query string
// must happen BEFORE signing.
import { type Signer, SigningDomain, sha256, signingPayload, toHex } from '@vigil/consensus/wire';

export const SignedHeader = {
  key: 'x-vigil-key',
  timestamp: 'x-vigil-timestamp',
  nonce: 'x-vigil-nonce',
  purpose: 'x-vigil-purpose',
  signature: 'x-vigil-signature',
} as const;

export const RequestPurpose = { treatment: 1, research: 2, emergency: 3 } as const;

export interface CanonicalRequest {
  method: string;
  /** Path and query as sent on the request line, e.g. `/v1/patients/ab12/readings?kind=1`. */
  target: string;
  bodySha256Hex: string;
  timestamp: number;
  nonce: string;
  purpose: number;
}

const utf8 = new TextEncoder();

/** The canonical request string (seven lines, see the module comment). */
export function canonicalRequest(r: CanonicalRequest): string {
  const q = r.target.indexOf('?');
  const path = q < 0 ? r.target : r.target.slice(0, q);
  const query = q < 0 ? '' : r.target.slice(q + 1);
  return [
    r.method.toUpperCase(),
    path,
    query,
    r.bodySha256Hex,
    String(r.timestamp),
    r.nonce,
    String(r.purpose),
  ].join('\n');
}

/** The exact bytes an ed25519 request signature covers. */
export function requestSigningBytes(chainId: string, r: CanonicalRequest): Uint8Array {
  return signingPayload(SigningDomain.request, chainId, utf8.encode(canonicalRequest(r)));
}

export interface SignRequestOptions {
  chainId: string;
  signer: Signer;
  method: string;
  /** Path plus query string, exactly as it will be sent. */
  target: string;
  body?: Uint8Array;
  purpose?: number;
  /** Default: the local clock. */
  timestamp?: number;
  /** Default: 16 random bytes from the platform CSPRNG (Web Crypto). */
  nonce?: string;
}

function randomNonce(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return toHex(b);
}

/** The five x-vigil-* headers that authenticate one request. */
export function signRequest(o: SignRequestOptions): Record<string, string> {
  const r: CanonicalRequest = {
    method: o.method,
    target: o.target,
    bodySha256Hex: toHex(sha256(o.body ?? new Uint8Array(0))),
    timestamp: o.timestamp ?? Date.now(),
    nonce: o.nonce ?? randomNonce(),
    purpose: o.purpose ?? RequestPurpose.treatment,
  };
  const signature = o.signer.sign(requestSigningBytes(o.chainId, r));
  return {
    [SignedHeader.key]: toHex(o.signer.publicKey),
    [SignedHeader.timestamp]: String(r.timestamp),
    [SignedHeader.nonce]: r.nonce,
    [SignedHeader.purpose]: String(r.purpose),
    [SignedHeader.signature]: toHex(signature),
  };
}
