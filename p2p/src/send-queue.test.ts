import t from 'tap';
import { SendQueue } from './send-queue.ts';

const msg = (n: number, size = 10) => new Uint8Array(size).fill(n);

t.test('drops the oldest messages once the byte bound is exceeded', async (t) => {
  const q = new SendQueue({ maxBytes: 30, maxMessages: 100 });
  t.equal(q.push(msg(1)), 0);
  t.equal(q.push(msg(2)), 0);
  t.equal(q.push(msg(3)), 0);
  t.equal(q.push(msg(4)), 1, 'one dropped');
  t.equal(q.bytes, 30);
  t.same(
    q.take(1000, 4, 5, 100).map((m) => m[0]),
    [2, 3, 4],
    'oldest (1) was dropped, order kept',
  );
});

t.test('drops the oldest messages once the count bound is exceeded', async (t) => {
  const q = new SendQueue({ maxBytes: 1e9, maxMessages: 2 });
  for (let i = 0; i < 5; i++) q.push(msg(i));
  t.equal(q.length, 2);
  t.same(
    q.take(1000, 4, 5, 100).map((m) => m[0]),
    [3, 4],
  );
});

t.test('take returns the longest prefix that fits the frame budget, at least one message', async (t) => {
  const q = new SendQueue({ maxBytes: 1e9, maxMessages: 1e6 });
  for (let i = 0; i < 10; i++) q.push(msg(i));
  // header 5 + 3 * (4 + 10) = 47 <= 50 < 61
  t.same(
    q.take(50, 4, 5, 100).map((m) => m[0]),
    [0, 1, 2],
  );
  t.same(
    q.take(50, 4, 5, 2).map((m) => m[0]),
    [3, 4],
    'message cap',
  );
  q.push(msg(99, 500));
  t.equal(q.take(1, 4, 5, 100).length, 1, 'an over-budget head still goes out alone');
  t.equal(q.clear(), 5 + 1 - 1);
  t.equal(q.bytes, 0);
});

t.test('memory stays bounded under a long stream of pushes', async (t) => {
  const q = new SendQueue({ maxBytes: 1000, maxMessages: 1e6 });
  let dropped = 0;
  for (let i = 0; i < 100_000; i++) {
    dropped += q.push(msg(i & 0xff));
    if (q.bytes > 1000) t.fail('bound exceeded');
  }
  t.equal(q.length, 100);
  t.equal(dropped, 100_000 - 100);
});
