import { signerFromSeed } from '@vigil/consensus/wire';
import t from 'tap';
import { backoffDelay } from './backoff.ts';
import {
  decodeBlockRangeRequest,
  decodeNodeStatus,
  encodeBlockRangeRequest,
  encodeNodeStatus,
} from './codec.ts';
import { P2PErrorCode } from './errors.ts';
import { identityFromSeed, keyHex, peerIdFromValidatorKey } from './identity.ts';
import { LruSet } from './lru-set.ts';
import { PeerScores } from './peer-score.ts';
import { seededRng } from './random.ts';
import { TokenBucket } from './token-bucket.ts';

t.test('token bucket grants a burst, then the refill rate', async (t) => {
  let now = 0;
  const b = new TokenBucket({ capacity: 10, ratePerSecond: 100, now: () => now });
  t.equal(b.take(15), 10, 'burst capped at capacity');
  t.equal(b.take(1), 0);
  now += 50; // 5 tokens
  t.equal(b.take(10), 5);
  now += 10_000;
  t.equal(b.take(100), 10, 'refill capped at capacity');
});

t.test('LRU set evicts the least recently added', async (t) => {
  const s = new LruSet<string>(2);
  t.ok(s.add('a'));
  t.ok(s.add('b'));
  t.notOk(s.add('a'), 're-adding refreshes');
  s.add('c');
  t.ok(s.has('a'));
  t.notOk(s.has('b'), 'b was oldest');
  t.equal(s.size, 2);
});

t.test('scores decay with the half-life and ban below the threshold', async (t) => {
  let now = 0;
  const s = new PeerScores({ halfLifeMs: 1000, banThreshold: -100, banMs: 5000 }, () => now);
  t.notOk(s.penalise('p', 60));
  now += 1000;
  t.equal(s.score('p'), -30, 'halved after one half-life');
  t.notOk(s.penalise('p', 60), '-90 is above the threshold');
  t.ok(s.penalise('p', 20), '-110 bans');
  t.ok(s.isBanned('p'));
  t.notOk(s.penalise('p', 20), 'already banned');
  now += 5001;
  t.notOk(s.isBanned('p'), 'ban expires');
  t.notOk(s.isBanned('q'));
});

t.test('backoff grows exponentially to the cap, with jitter in [d/2, d]', async (t) => {
  const rng = seededRng(3);
  const policy = { baseMs: 100, maxMs: 1000 };
  for (let attempt = 0; attempt < 10; attempt++) {
    const d = backoffDelay(policy, attempt, rng);
    const exp = Math.min(1000, 100 * 2 ** attempt);
    t.ok(d >= exp / 2 && d <= exp, `attempt ${attempt}: ${d} in [${exp / 2}, ${exp}]`);
  }
});

t.test('block range requests round-trip and reject malformed input', async (t) => {
  const bytes = encodeBlockRangeRequest({ fromHeight: 2 ** 40, count: 500 });
  t.same(decodeBlockRangeRequest(bytes, 1000), { fromHeight: 2 ** 40, count: 500 });
  t.same(
    decodeBlockRangeRequest(bytes, 100),
    { fromHeight: 2 ** 40, count: 100 },
    'count clamped to the server max',
  );
  t.throws(() => decodeBlockRangeRequest(bytes.subarray(1), 10), { code: P2PErrorCode.badRequest });
  const huge = new Uint8Array(12).fill(0xff);
  t.throws(() => decodeBlockRangeRequest(huge, 10), { code: P2PErrorCode.badRequest }, 'height beyond 2^53');
  t.throws(
    () => decodeBlockRangeRequest(new Uint8Array(12), 10),
    { code: P2PErrorCode.badRequest },
    'count 0',
  );
});

t.test('node status round-trips and rejects malformed input', async (t) => {
  const s = { height: 12, view: 3, checkpoint: { height: 10, digest: new Uint8Array(32).fill(9) } };
  const bytes = encodeNodeStatus(s);
  t.same(decodeNodeStatus(bytes), s);
  t.throws(() => decodeNodeStatus(bytes.subarray(0, 30)), { code: P2PErrorCode.badRequest });
  t.throws(() => decodeNodeStatus(new Uint8Array(10)), { code: P2PErrorCode.badRequest });
});

t.test('the libp2p identity is derived from the validator seed', async (t) => {
  const seed = new Uint8Array(32).fill(5);
  const id = await identityFromSeed(seed);
  t.equal(id.key, keyHex(id.publicKey));
  t.equal(
    peerIdFromValidatorKey(id.publicKey).toString(),
    id.peerId.toString(),
    'genesis key -> same PeerId',
  );
  await t.rejects(identityFromSeed(new Uint8Array(31)), { code: P2PErrorCode.invalidConfig });
  t.throws(() => peerIdFromValidatorKey(new Uint8Array(5)), { code: P2PErrorCode.invalidConfig });
});

t.test('the libp2p key is the same ed25519 key the validator signs consensus messages with', async (t) => {
  const seed = new Uint8Array(32).fill(11);
  const id = await identityFromSeed(seed);
  t.same(id.publicKey, signerFromSeed(seed).publicKey, 'so genesis validator keys name the PeerIds');
});
