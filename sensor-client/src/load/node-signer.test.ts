import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { Rng } from '../sim/prng.ts';
import { toHex } from '../util/hex.ts';
import { nodeSignerFromSeed } from './node-signer.ts';

t.test('node:crypto signer = wire signer, byte for byte (Ed25519 is deterministic)', async (t) => {
  const rng = new Rng(77);
  for (let i = 0; i < 20; i++) {
    const seed = rng.bytes(32);
    const msg = rng.bytes(i * 13);
    const a = nodeSignerFromSeed(seed);
    const b = signerFromSeed(seed);
    t.equal(toHex(a.publicKey), toHex(b.publicKey));
    t.equal(toHex(a.sign(msg)), toHex(b.sign(msg)));
  }
  t.throws(() => nodeSignerFromSeed(new Uint8Array(31)), RangeError);
});
