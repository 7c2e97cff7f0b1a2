import t from 'tap';
import { LruSet } from './lru-set.ts';

t.test('add reports new keys; the least recently added or refreshed key is evicted first', async (t) => {
  const s = new LruSet<string>(3);
  t.ok(s.add('a'));
  t.ok(s.add('b'));
  t.ok(s.add('c'));
  t.notOk(s.add('a'), 'already present: refreshed, not new');
  t.ok(s.add('d'), 'over capacity: evicts b, the least recent');
  t.equal(s.size, 3);
  t.notOk(s.has('b'));
  t.ok(s.has('a') && s.has('c') && s.has('d'));
  t.ok(s.has('c'));
  t.ok(s.add('e'), 'has() does not refresh: c is still the least recent and goes');
  t.notOk(s.has('c'));
});

t.test('stays bounded and exact through heavy churn', async (t) => {
  const cap = 1_000;
  const s = new LruSet<number>(cap);
  for (let i = 0; i < 50_000; i++) s.add(i);
  t.equal(s.size, cap);
  t.ok(s.has(49_999) && s.has(49_000), 'the newest capacity-many are kept');
  t.notOk(s.has(48_999));
});

t.test('capacity must be a positive integer', async (t) => {
  t.throws(() => new LruSet(0), RangeError);
  t.throws(() => new LruSet(1.5), RangeError);
});
