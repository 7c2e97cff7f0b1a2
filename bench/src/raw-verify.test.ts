import t from 'tap';
import { BenchError } from './errors.ts';
import { measureCeiling, rawVerifyRate, signedSample } from './raw-verify.ts';

t.test('a ceiling sample verifies real signatures on every core and says when it was taken', async (t) => {
  const c = await measureCeiling('before n4-loopback', signedSample(16));
  t.equal(c.label, 'before n4-loopback');
  t.ok(Number.isFinite(Date.parse(c.at)));
  t.ok(c.rawVerifyPerSec > 0 && Number.isFinite(c.rawVerifyPerSec));
  t.ok(c.cpuUsPerSignature > 0 && Number.isFinite(c.cpuUsPerSignature));
});

t.test('the sample is distinct senders, and a forged signature stops the measurement', async (t) => {
  const sample = signedSample(8);
  t.equal(new Set(sample.map((b) => Buffer.from(b).toString('hex'))).size, 8);
  const forged = sample.map((b) => b.slice());
  // The signature is the encoding's last 64 bytes (a CBOR byte string at the end of the array).
  forged[3]![forged[3]!.length - 1]! ^= 0x01;
  await t.rejects(rawVerifyRate(1, forged, 1), BenchError);
  await t.rejects(rawVerifyRate(1, forged, 1), { code: 'RAW_VERIFY' });
});

t.test('the verifier is warm when the clock starts: every key of the sample already cached', async (t) => {
  // A validator verifies its devices' transactions with their KeyObjects cached; a cold first round
  // would pay one key parse per sender and understate the ceiling.
  const r = await rawVerifyRate(2, signedSample(12), 1);
  t.equal(r.keysCachedAtStart, 12);
  t.equal(r.perSecond > 0, true);
});
