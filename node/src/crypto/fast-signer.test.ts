import { randomBytes } from 'node:crypto';
import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { fastSignerFromSeed } from './fast-signer.ts';
import { fastVerifier } from './fast-verifier.ts';

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

t.test('RFC 8032 §7.1 test 2: public key and signature', (t) => {
  const s = fastSignerFromSeed(fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'));
  t.equal(
    Buffer.from(s.publicKey).toString('hex'),
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
  );
  t.equal(
    Buffer.from(s.sign(fromHex('72'))).toString('hex'),
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  );
  t.end();
});

t.test('byte-identical to the pure-JS signer on random seeds and messages', (t) => {
  for (let i = 0; i < 200; i++) {
    const seed = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(i * 7));
    const fast = fastSignerFromSeed(seed);
    const reference = signerFromSeed(seed);
    t.same(fast.publicKey, reference.publicKey);
    const sig = fast.sign(message);
    t.same(sig, reference.sign(message));
    t.ok(fastVerifier.verify(sig, message, fast.publicKey));
  }
  t.end();
});

t.test('refuses a seed that is not 32 bytes', (t) => {
  t.throws(() => fastSignerFromSeed(new Uint8Array(31)), RangeError);
  t.end();
});
