// Request signing: the worked example of docs/api.md (so a client in another language has a vector),
// the replay guard's window and bound, and the verifier's refusals, without a network.
import { readFileSync } from 'node:fs';
import { referenceVerifier, signerFromSeed, toHex } from '@vigil/consensus/wire';
import t from 'tap';
import { canonicalRequest, requestSigningBytes, signRequest } from './signed-request-client.ts';
import { AuthError, authenticate, ReplayGuard } from './signed-request.ts';

const signer = signerFromSeed(new Uint8Array(32).fill(1));
const target = `/v1/patients/${'ab'.repeat(32)}/readings?kind=1&limit=10`;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const VECTOR = {
  key: '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
  signature:
    '458c36ccf2ac69ed6f9cea30afccce5fa343bf2f1efecbbdf8a69decf802fff0dc5322061333a615a9033b977d89c1b4d499dbfcf4067921a83f456d4b5c050c',
};

t.test('the worked example in docs/api.md', async (t) => {
  const r = {
    method: 'GET',
    target,
    bodySha256Hex: EMPTY_SHA256,
    timestamp: 1_700_000_000_000,
    nonce: '00112233445566778899aabbccddeeff',
    purpose: 1,
  };
  t.equal(
    canonicalRequest(r),
    `GET\n/v1/patients/${'ab'.repeat(32)}/readings\nkind=1&limit=10\n${EMPTY_SHA256}\n1700000000000\n00112233445566778899aabbccddeeff\n1`,
  );
  const h = signRequest({
    chainId: 'vigil-devnet',
    signer,
    method: 'GET',
    target,
    timestamp: r.timestamp,
    nonce: r.nonce,
  });
  t.same(h, {
    'x-vigil-key': VECTOR.key,
    'x-vigil-timestamp': '1700000000000',
    'x-vigil-nonce': r.nonce,
    'x-vigil-purpose': '1',
    'x-vigil-signature': VECTOR.signature,
  });
  const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
  t.ok(doc.includes(VECTOR.signature) && doc.includes(VECTOR.key), 'docs/api.md shows this vector');
  t.ok(doc.includes(toHex(requestSigningBytes('vigil-devnet', r))), 'and the signed bytes');
});

const auth = (headers: Record<string, string>, guard: ReplayGuard, now: number, t2 = target) =>
  authenticate(
    { method: 'GET', rawTarget: t2, headers, rawBody: new Uint8Array(0) },
    'vigil-devnet',
    guard,
    referenceVerifier,
    now,
  );
const code = (f: () => unknown) => {
  try {
    f();
    return 'OK';
  } catch (e) {
    return e instanceof AuthError ? e.code : String(e);
  }
};

t.test('replay guard: window, replay, bound, and only verified requests consume a nonce', async (t) => {
  const guard = new ReplayGuard({ windowMs: 1000, maxEntries: 3 });
  const now = 1_000_000;
  const sign = (nonce: string, ts = now) =>
    signRequest({ chainId: 'vigil-devnet', signer, method: 'GET', target, timestamp: ts, nonce });
  t.equal(
    code(() => auth(sign('a'.repeat(16)), guard, now)),
    'OK',
  );
  t.equal(
    code(() => auth(sign('a'.repeat(16)), guard, now + 10)),
    'REPLAYED_REQUEST',
  );
  t.equal(
    code(() => auth(sign('b'.repeat(16), now - 1001), guard, now)),
    'REQUEST_EXPIRED',
  );
  t.equal(
    code(() => auth(sign('b'.repeat(16), now + 1001), guard, now)),
    'REQUEST_EXPIRED',
  );
  // A forged request with someone's nonce does not burn it.
  const forged = { ...sign('c'.repeat(16)), 'x-vigil-signature': '00'.repeat(64) };
  t.equal(
    code(() => auth(forged, guard, now)),
    'BAD_REQUEST_SIGNATURE',
  );
  t.equal(
    code(() => auth(sign('c'.repeat(16)), guard, now)),
    'OK',
  );
  t.equal(
    code(() => auth(sign('d'.repeat(16)), guard, now)),
    'OK',
  );
  t.equal(guard.size, 3);
  // Full of unexpired entries: refuse (503) rather than forget a nonce that could be replayed.
  t.equal(
    code(() => auth(sign('e'.repeat(16)), guard, now)),
    'NONCE_CACHE_FULL',
  );
  // Once entries expire, they are swept and room returns.
  t.equal(
    code(() => auth(sign('e'.repeat(16), now + 2500), guard, now + 2500)),
    'OK',
  );
  t.ok(guard.size <= 3);
  // After the window, the old nonce is forgotten, but its timestamp is now too old to replay anyway.
  t.equal(
    code(() => auth(sign('a'.repeat(16)), guard, now + 2500)),
    'REQUEST_EXPIRED',
  );
});

t.test('header checks', async (t) => {
  const guard = new ReplayGuard();
  const now = Date.now();
  const good = signRequest({ chainId: 'vigil-devnet', signer, method: 'GET', target, timestamp: now });
  t.equal(
    code(() => auth({}, guard, now)),
    'UNAUTHENTICATED',
  );
  const { 'x-vigil-nonce': _, ...noNonce } = good;
  t.equal(
    code(() => auth(noNonce, guard, now)),
    'UNAUTHENTICATED',
  );
  t.equal(
    code(() => auth({ ...good, 'x-vigil-key': good['x-vigil-key']!.toUpperCase() }, guard, now)),
    'BAD_AUTH_HEADER',
  );
  t.equal(
    code(() => auth(good, guard, now, `${target}&x=1`)),
    'BAD_REQUEST_SIGNATURE',
  );
  t.equal(
    code(() => auth(good, guard, now)),
    'OK',
  );
});
