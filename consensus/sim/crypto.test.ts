import t from 'tap';
import { CryptoMeter, FakeKeyRegistry, meteredSigner, meteredVerifier } from './crypto.ts';

const msg = new TextEncoder().encode('hello');

t.test('fake signatures verify for their own key only, and forging fails', async (t) => {
  const reg = new FakeKeyRegistry();
  const a = reg.signer('validator/0');
  const b = reg.signer('validator/1');
  const sig = a.sign(msg);
  t.equal(sig.length, 64);
  t.ok(reg.verify(sig, msg, a.publicKey));
  t.notOk(reg.verify(sig, msg, b.publicKey), 'not valid for another key');
  t.notOk(reg.verify(b.sign(msg), msg, a.publicKey), 'b cannot sign for a');
  t.notOk(reg.verify(sig, new TextEncoder().encode('hellp'), a.publicKey), 'bound to the message');
  const flipped = Uint8Array.from(sig);
  flipped[10]! ^= 1;
  t.notOk(reg.verify(flipped, msg, a.publicKey));
  t.notOk(reg.verify(sig, msg, new Uint8Array(32)), 'unknown key');
  t.same(new FakeKeyRegistry().signer('validator/0').publicKey, a.publicKey, 'deterministic keys');
});

t.test('metering counts operations', async (t) => {
  const reg = new FakeKeyRegistry();
  const meter = new CryptoMeter();
  const s = meteredSigner(reg.signer('x'), meter);
  const v = meteredVerifier(reg, meter);
  const sig = s.sign(msg);
  v.verify(sig, msg, s.publicKey);
  v.verify(sig, msg, s.publicKey);
  t.same(meter.take(), { signs: 1, verifies: 2 });
  t.same(meter.take(), { signs: 0, verifies: 0 });
});
