import t from 'tap';
import { FaultLayer } from './fault.ts';
import { seededRng } from './random.ts';

t.test('without faults a message is delivered synchronously', async (t) => {
  const f = new FaultLayer();
  let got = 0;
  t.equal(
    f.submit('a', 'b', () => got++),
    undefined,
  );
  t.equal(got, 1);
});

t.test('partitions block both directions between groups, not within them', async (t) => {
  const f = new FaultLayer();
  f.partition([
    ['a', 'b'],
    ['c', 'd'],
  ]);
  t.equal(f.blocked('a', 'c'), 'fault-partition');
  t.equal(f.blocked('d', 'b'), 'fault-partition');
  t.equal(f.blocked('a', 'b'), undefined);
  t.equal(f.blocked('a', 'e'), undefined, 'peers outside every group are unaffected');
  t.equal(
    f.submit('a', 'c', () => t.fail('delivered')),
    'fault-partition',
  );
  f.heal();
  t.equal(f.blocked('a', 'c'), undefined);
});

t.test('a cut is one-way', async (t) => {
  const f = new FaultLayer();
  f.cut('a', 'b');
  t.equal(f.blocked('a', 'b'), 'fault-cut');
  t.equal(f.blocked('b', 'a'), undefined);
  f.restore('a', 'b');
  t.equal(f.blocked('a', 'b'), undefined);
});

t.test('loss drops exactly the messages the seeded generator picks', async (t) => {
  const f = new FaultLayer({ seed: 42 });
  f.setLink('a', 'b', { loss: 0.25 });
  let delivered = 0;
  let lost = 0;
  for (let i = 0; i < 4000; i++) {
    if (f.submit('a', 'b', () => delivered++) === 'fault-loss') lost++;
  }
  const rng = seededRng(42);
  let expected = 0;
  for (let i = 0; i < 4000; i++) if (rng() < 0.25) expected++;
  t.equal(lost, expected, 'same decisions as the seeded generator');
  t.equal(delivered + lost, 4000);
  t.ok(lost > 800 && lost < 1200, `about a quarter lost (${lost})`);
  t.equal(
    f.submit('b', 'a', () => {}),
    undefined,
    'the reverse link has no loss',
  );
});

t.test('latency with jitter keeps a link FIFO', async (t) => {
  const f = new FaultLayer({ seed: 7 });
  f.setLink('a', 'b', { latencyMs: 5, jitterMs: 20 });
  const order: number[] = [];
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < 50; i++) {
      f.submit('a', 'b', () => {
        order.push(i);
        if (order.length === 50) resolve();
      });
    }
  });
  t.equal(order.length, 0, 'nothing delivered synchronously');
  t.equal(f.pending(), 50);
  await done;
  t.same(
    order,
    Array.from({ length: 50 }, (_, i) => i),
  );
});

t.test('a delayed link does not hold back an undelayed one', async (t) => {
  const f = new FaultLayer();
  f.setLink('a', 'b', { latencyMs: 30 });
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    f.submit('a', 'b', () => {
      order.push('b');
      resolve();
    });
    f.submit('a', 'c', () => order.push('c'));
  });
  t.same(order, ['c', 'b']);
});

t.test('cancelFrom discards delayed messages of a stopping node', async (t) => {
  const f = new FaultLayer();
  f.setDefault({ latencyMs: 10 });
  f.submit('a', 'b', () => t.fail('delivered after cancel'));
  f.cancelFrom('a');
  t.equal(f.pending(), 0);
  await new Promise((r) => setTimeout(r, 30));
});

t.test('rejects nonsense fault settings', async (t) => {
  const f = new FaultLayer();
  t.throws(() => f.setDefault({ loss: 1.5 }), RangeError);
  t.throws(() => f.setLink('a', 'b', { latencyMs: -1 }), RangeError);
});

t.test(
  'reorder: true lets jitter reorder a link, and cancelFrom still discards those messages',
  async (t) => {
    const f = new FaultLayer({ seed: 9 });
    f.setLink('a', 'b', { jitterMs: 30, reorder: true });
    const order: number[] = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 40; i++) {
        f.submit('a', 'b', () => {
          order.push(i);
          if (order.length === 40) resolve();
        });
      }
    });
    t.same(
      order.slice().sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i),
      'all delivered',
    );
    t.notSame(
      order,
      Array.from({ length: 40 }, (_, i) => i),
      'but not in sending order (seeded)',
    );
    f.submit('a', 'b', () => t.fail('delivered after cancel'));
    t.equal(f.pending(), 1);
    f.cancelFrom('a');
    t.equal(f.pending(), 0);
    await new Promise((r) => setTimeout(r, 50));
  },
);
