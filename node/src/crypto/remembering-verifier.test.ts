import { referenceVerifier, type Verifier } from '@vigil/consensus/wire';
import { arbSignatureCase, honestSignature, testKey } from '@vigil/consensus/wire/ed25519-testkit.ts';
import fc from 'fast-check';
import t from 'tap';
import { fastVerifier } from './fast-verifier.ts';
import { fastSignerFromSeed } from './fast-signer.ts';
import {
  createRememberingVerifier,
  MAX_REMEMBERED_MESSAGE_BYTES,
  rememberingSigner,
} from './remembering-verifier.ts';

const runs = (base: number): number => Math.floor(base * Number(process.env['VIGIL_PROPERTY_SCALE'] ?? '1'));

/** The fast verifier, counting the checks that reach it. */
function counted(): Verifier & { calls: number } {
  const v = {
    calls: 0,
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      v.calls++;
      return fastVerifier.verify(signature, message, publicKey);
    },
  };
  return v;
}

const keys = [1, 2, 3].map((i) => testKey(new Uint8Array(32).fill(i)));
const msg = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A counted inner verifier, the remembering one over it, and key 0's signature over `text`. */
function signed(text: string) {
  const inner = counted();
  const v = createRememberingVerifier(inner);
  const m = msg(text);
  return { inner, v, m, sig: honestSignature(keys[0]!, m) };
}

t.test('an accepted signature checked again is answered without the inner verifier', async (t) => {
  const { inner, v, m, sig } = signed('commit 7');
  t.ok(v.verify(sig, m, keys[0]!.publicKey));
  t.ok(v.verify(sig, Uint8Array.from(m), keys[0]!.publicKey), 'equal bytes in another buffer');
  t.equal(inner.calls, 1);
  t.same([v.hits, v.misses], [1, 1]);
});

t.test('rejections are never remembered', async (t) => {
  const { inner, v, m, sig } = signed('prepare 3');
  t.notOk(v.verify(sig, m, keys[1]!.publicKey), 'wrong key');
  t.notOk(v.verify(sig, m, keys[1]!.publicKey), 'wrong key again');
  t.equal(inner.calls, 2);
  t.equal(v.hits, 0);
});

t.test('a remembered signature does not vouch for another message or key', async (t) => {
  const { inner, v, m, sig } = signed('block hash A');
  t.ok(v.verify(sig, m, keys[0]!.publicKey));
  t.notOk(v.verify(sig, msg('block hash B'), keys[0]!.publicKey), 'same signature, other message');
  t.notOk(v.verify(sig, msg('block hash'), keys[0]!.publicKey), 'a prefix of the message');
  t.notOk(v.verify(sig, m, keys[2]!.publicKey), 'same signature, other key');
  t.equal(inner.calls, 4, 'every differing check went to the inner verifier');
});

t.test('a caller mutating its message buffer afterwards does not change what was remembered', async (t) => {
  const v = createRememberingVerifier(counted());
  const m = msg('view 2 height 9');
  const sig = honestSignature(keys[1]!, m);
  t.ok(v.verify(sig, m, keys[1]!.publicKey));
  m[0] ^= 1;
  t.notOk(v.verify(sig, m, keys[1]!.publicKey), 'the mutated bytes are checked, and fail');
});

t.test('memory is bounded: the least recently used entry is forgotten first', async (t) => {
  const inner = counted();
  const v = createRememberingVerifier(inner, 2);
  const entries = ['a', 'b', 'c'].map((s) => {
    const m = msg(s);
    return { m, sig: honestSignature(keys[0]!, m) };
  });
  for (const e of entries.slice(0, 2)) v.verify(e.sig, e.m, keys[0]!.publicKey);
  v.verify(entries[0]!.sig, entries[0]!.m, keys[0]!.publicKey); // 'a' is now the most recent
  v.verify(entries[2]!.sig, entries[2]!.m, keys[0]!.publicKey); // evicts 'b'
  t.equal(inner.calls, 3);
  t.ok(v.verify(entries[0]!.sig, entries[0]!.m, keys[0]!.publicKey));
  t.equal(inner.calls, 3, "'a' was kept");
  t.ok(v.verify(entries[1]!.sig, entries[1]!.m, keys[0]!.publicKey));
  t.equal(inner.calls, 4, "'b' was forgotten and verified again");
  t.throws(() => createRememberingVerifier(inner, 0), RangeError);
});

t.test(
  'large messages (VIEW-CHANGE, NEW-VIEW) are verified every time, never copied into memory',
  async (t) => {
    const inner = counted();
    const v = createRememberingVerifier(inner);
    const big = new Uint8Array(MAX_REMEMBERED_MESSAGE_BYTES + 1).fill(7);
    const sig = honestSignature(keys[0]!, big);
    t.ok(v.verify(sig, big, keys[0]!.publicKey));
    t.ok(v.verify(sig, big, keys[0]!.publicKey));
    t.equal(inner.calls, 2);
    v.remember(sig, big, keys[0]!.publicKey);
    t.ok(v.verify(sig, big, keys[0]!.publicKey));
    t.equal(inner.calls, 3, 'remember() ignores them too');
  },
);

t.test('first and repeated answers equal the reference verifier on adversarial cases', async (t) => {
  const v = createRememberingVerifier(fastVerifier, 64);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(arbSignatureCase(keys), (c) => {
        const ref = referenceVerifier.verify(c.signature, c.message, c.publicKey);
        return (
          v.verify(c.signature, c.message, c.publicKey) === ref &&
          v.verify(c.signature, c.message, c.publicKey) === ref
        );
      }),
      { numRuns: runs(300) },
    ),
  );
});

t.test("a remembering signer's own signatures are then accepted without verification", async (t) => {
  const inner = counted();
  const v = createRememberingVerifier(inner);
  const seed = new Uint8Array(32).fill(9);
  const signer = rememberingSigner(fastSignerFromSeed(seed), v);
  const m = msg('own commit');
  const sig = signer.sign(m);
  t.same(sig, honestSignature(testKey(seed), m), 'the same signature as @noble');
  t.ok(v.verify(sig, m, signer.publicKey));
  t.equal(inner.calls, 0, 'answered from memory');
  t.notOk(v.verify(sig, msg('another'), signer.publicKey), 'only for the message it signed');
  t.equal(inner.calls, 1);
});
