// Quorum arithmetic (TOCS 2002 §4.1): q = floor((n+f)/2)+1 must make any two quorums share a correct
// replica and must be reachable by the correct replicas alone, for every n (not only n = 3f+1).
import t from 'tap';
import { maxFaulty, primaryOf, quorumSize } from './quorum.ts';

t.test('2f+1 for n = 3f+1', async (t) => {
  t.equal(quorumSize(4), 3);
  t.equal(quorumSize(7), 5);
  t.equal(quorumSize(10), 7);
  t.equal(maxFaulty(4), 1);
  t.equal(maxFaulty(7), 2);
});

t.test('general n: intersection >= f+1 (safety) and q <= n-f (liveness)', async (t) => {
  for (let n = 1; n <= 200; n++) {
    const f = maxFaulty(n);
    const q = quorumSize(n);
    if (2 * q - n < f + 1) t.fail(`n=${n}: two quorums share only ${2 * q - n} replicas`);
    if (q > n - f) t.fail(`n=${n}: correct replicas (${n - f}) cannot form a quorum of ${q}`);
    // A committed block was prepared by at least q-f correct replicas (q COMMITs, at most f faulty);
    // every quorum of VIEW-CHANGEs must include one of them (the NEW-VIEW safety argument).
    if (q + (q - f) <= n) t.fail(`n=${n}: a quorum may miss all q-f correct holders of a certificate`);
    if (q - f < f + 1) t.fail(`n=${n}: fewer than f+1 correct holders`);
  }
  t.equal(quorumSize(5), 4, 'n=5 (f=1): 2f+1=3 would let two quorums share one replica, possibly faulty');
  t.equal(quorumSize(6), 4, 'n=6 (f=1)');
});

t.test('primary of view v is v mod n', async (t) => {
  t.equal(primaryOf(0, 4), 0);
  t.equal(primaryOf(5, 4), 1);
  t.equal(primaryOf(7, 7), 0);
});

t.test('rejects nonsense replica counts', async (t) => {
  t.throws(() => maxFaulty(0), RangeError);
  t.throws(() => quorumSize(1.5), RangeError);
});
