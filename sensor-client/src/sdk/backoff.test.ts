import t from 'tap';
import { backoffDelay } from './backoff.ts';

t.test('full jitter: delays lie in [0, min(cap, base * 2^attempt))', async (t) => {
  const opts = { baseMs: 100, capMs: 5_000 };
  t.equal(
    backoffDelay(0, opts, () => 0.999999),
    99,
  );
  t.equal(
    backoffDelay(3, opts, () => 0.5),
    400,
  );
  t.equal(
    backoffDelay(10, opts, () => 0.999999),
    4999,
    'capped',
  );
  t.equal(
    backoffDelay(1000, opts, () => 0.5),
    2500,
    'huge attempt numbers do not overflow',
  );
  t.equal(
    backoffDelay(5, opts, () => 0),
    0,
  );
  // The ceiling grows geometrically until the cap.
  const ceilings = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, opts, () => 0.9999999) + 1);
  t.same(ceilings, [100, 200, 400, 800, 1600, 3200, 5000]);
});
