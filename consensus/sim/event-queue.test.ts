import fc from 'fast-check';
import t from 'tap';
import { EventQueue } from './event-queue.ts';

t.test('pops in time order, and in insertion order among equal times', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const q = new EventQueue<number>();
        for (const [i, time] of times.entries()) q.push(time, i);
        const out: { time: number; event: number }[] = [];
        for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e);
        const expected = times.map((time, i) => ({ time, i })).sort((a, b) => a.time - b.time || a.i - b.i);
        return (
          out.length === times.length &&
          out.every((e, k) => e.time === expected[k]!.time && e.event === expected[k]!.i)
        );
      }),
      { numRuns: 300 },
    ),
  );
});

t.test('rejects non-finite times; peek and size', async (t) => {
  const q = new EventQueue<string>();
  t.throws(() => q.push(Number.NaN, 'x'), RangeError);
  t.equal(q.peekTime(), undefined);
  q.push(5, 'b');
  q.push(1, 'a');
  t.equal(q.size, 2);
  t.equal(q.peekTime(), 1);
  t.equal(q.pop()?.event, 'a');
});
