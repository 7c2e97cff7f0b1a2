// The account record a light client proves (ADR 0131): the key's layout, and that a served value is
// read as a nonce only when it is exactly the canonical encoding of one.
import fc from 'fast-check';
import t from 'tap';
import { encodeCanonical } from '../wire/index.ts';
import { accountNonceKey, decodeAccountNonce } from './accounts.ts';
import { ProofError } from './errors.ts';

t.test('the key is 0x00, "nonce/", then the public key (docs/storage.md)', async (t) => {
  const pk = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const k = accountNonceKey(pk);
  t.equal(k.length, 1 + 6 + 32);
  t.equal(k[0], 0x00);
  t.equal(new TextDecoder().decode(k.subarray(1, 7)), 'nonce/');
  t.same([...k.subarray(7)], [...pk]);
  t.throws(() => accountNonceKey(new Uint8Array(31)), RangeError);
});

t.test('canonical unsigned integers decode to the nonce; absence is 0', async (t) => {
  t.equal(decodeAccountNonce(undefined), 0);
  for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    t.equal(decodeAccountNonce(encodeCanonical(n)), n, `${n}`);
  }
});

t.test('anything else is MALFORMED_PROOF', async (t) => {
  const bad: [string, Uint8Array][] = [
    ['a non-shortest head', Uint8Array.of(0x18, 0x05)],
    ['a negative integer', encodeCanonical(-1)],
    ['a byte string', encodeCanonical(new Uint8Array(4))],
    ['a text string', encodeCanonical('7')],
    ['an array', encodeCanonical([7])],
    ['an integer beyond 2^53 - 1', encodeCanonical(2n ** 60n)],
    ['trailing bytes', Uint8Array.of(0x07, 0x00)],
    ['empty bytes', new Uint8Array(0)],
    ['too long', new Uint8Array(10)],
  ];
  for (const [what, v] of bad) {
    t.throws(() => decodeAccountNonce(v), { name: 'ProofError', code: 'MALFORMED_PROOF' }, what);
  }
});

t.test(
  'hostile bytes: a nonce only when they are its canonical encoding, else MALFORMED_PROOF',
  async (t) => {
    let decoded = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        let n: number;
        try {
          n = decodeAccountNonce(bytes);
        } catch (e) {
          return e instanceof ProofError && e.code === 'MALFORMED_PROOF';
        }
        decoded++;
        return Buffer.from(encodeCanonical(n)).equals(bytes);
      }),
      { numRuns: 2_000 },
    );
    t.ok(decoded > 0, 'some inputs were nonces (one-byte heads below 24)');
  },
);
