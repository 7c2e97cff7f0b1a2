import fc from 'fast-check';
import t from 'tap';
import { TxCache } from './tx-cache.ts';

const runs = Number(process.env.VIGIL_PROPERTY_RUNS ?? 300);
const tx = (n: number, len = 10) => new Uint8Array(len).fill(n & 0xff);

t.test('oldest out first, by count and by bytes; a used transaction is gone', async (t) => {
  const c = new TxCache(3, 25);
  c.add('a', tx(1));
  c.add('b', tx(2));
  c.add('a', tx(9)); // already there: kept, not replaced, not refreshed
  t.same(c.get('a'), tx(1));
  c.add('c', tx(3, 5));
  t.equal(c.size, 3);
  t.equal(c.bytes, 25);
  c.add('d', tx(4, 5)); // 4 entries: a goes
  t.equal(c.get('a'), undefined);
  t.same(
    [c.get('b'), c.get('c'), c.get('d')].map((x) => x?.length),
    [10, 5, 5],
  );
  c.add('e', tx(5, 20)); // 40 bytes: b and c go (25 left), d and e stay
  t.same([c.get('b'), c.get('c'), c.get('d')?.length], [undefined, undefined, 5]);
  t.equal(c.bytes, 25);
  c.delete('e');
  c.delete('d');
  c.delete('d'); // twice: nothing happens
  t.equal(c.size, 0);
  t.equal(c.bytes, 0);
  c.add('f', tx(6, 26)); // larger than the byte bound: never held
  t.equal(c.get('f'), undefined);
});

t.test('a key removed and added again is not evicted by its stale slot', async (t) => {
  const c = new TxCache(2, 1_000);
  c.add('a', tx(1));
  c.add('b', tx(2));
  c.delete('a');
  c.add('a', tx(3)); // newest now
  c.add('c', tx(4)); // over the count: the oldest live entry is b, not the new a
  t.equal(c.get('b'), undefined);
  t.same(c.get('a'), tx(3));
  t.same(c.get('c'), tx(4));
});

t.test('property: the cache agrees with a FIFO model under any sequence of adds and removals', async () => {
  const op = fc.oneof(
    fc.record({ add: fc.integer({ min: 0, max: 20 }), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ del: fc.integer({ min: 0, max: 20 }) }),
  );
  fc.assert(
    fc.property(
      fc.array(op, { minLength: 50, maxLength: 2_000, size: 'max' }),
      fc.integer({ min: 1, max: 8 }),
      (ops, maxTxs) => {
        const maxBytes = 100;
        const c = new TxCache(maxTxs, maxBytes);
        const model: { key: string; len: number }[] = [];
        for (const o of ops) {
          if ('add' in o) {
            const key = String(o.add);
            c.add(key, tx(o.add, o.len));
            if (o.len <= maxBytes && !model.some((m) => m.key === key)) {
              model.push({ key, len: o.len });
              const bytes = () => model.reduce((n, m) => n + m.len, 0);
              while (model.length > maxTxs || bytes() > maxBytes) model.shift();
            }
          } else {
            c.delete(String(o.del));
            const i = model.findIndex((m) => m.key === String(o.del));
            if (i >= 0) model.splice(i, 1);
          }
          if (c.size !== model.length || c.bytes !== model.reduce((n, m) => n + m.len, 0)) return false;
        }
        return model.every((m) => c.get(m.key)?.length === m.len);
      },
    ),
    { numRuns: runs },
  );
});

t.test(
  'many transactions used right after arrival: the cache stays correct while its order is compacted',
  async (t) => {
    const c = new TxCache(4, 1_000);
    c.add('kept', tx(1));
    for (let i = 0; i < 20_000; i++) {
      c.add(`k${i}`, tx(i));
      if (i % 7 !== 0) c.delete(`k${i}`);
    }
    // Every seventh stayed (19,999 = 7 x 2,857 is the last); the count bound keeps the newest four.
    t.equal(c.size, 4);
    t.equal(c.get('kept'), undefined);
    t.same(
      [19_978, 19_985, 19_992, 19_999].map((i) => c.get(`k${i}`)?.[0]),
      [19_978, 19_985, 19_992, 19_999].map((i) => i & 0xff),
    );
    t.equal(c.bytes, 40);
  },
);
