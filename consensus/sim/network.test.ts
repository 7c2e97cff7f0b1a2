import t from 'tap';
import { LAN, Network, sampleLatency } from './network.ts';
import { Prng } from './prng.ts';

t.test('latency distributions stay within their bounds', async (t) => {
  const p = new Prng(1);
  for (let i = 0; i < 2_000; i++) {
    const u = sampleLatency({ kind: 'uniform', minMs: 2, maxMs: 9 }, p);
    const n = sampleLatency({ kind: 'normal', meanMs: 10, sdMs: 3, minMs: 1 }, p);
    const s = sampleLatency({ kind: 'spiky', minMs: 1, maxMs: 2, spikeProbability: 0.5, spikeMs: 100 }, p);
    if (u < 2 || u >= 9 || n < 1 || s < 1 || s >= 102) t.fail(`out of bounds: ${u} ${n} ${s}`);
  }
  t.pass('bounded');
});

t.test('loss, duplication and reordering happen at about their rates; GST stops loss', async (t) => {
  const net = new Network(
    {
      default: {
        latency: { kind: 'uniform', minMs: 1, maxMs: 2 },
        loss: 0.2,
        duplicate: 0.1,
        reorder: 0.5,
        reorderMs: 100,
      },
    },
    new Prng(5),
  );
  let lost = 0;
  let dup = 0;
  let late = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = net.transmit(0, 1);
    if (d.length === 0) lost++;
    if (d.length === 2) dup++;
    if (d.some((x) => x > 2)) late++;
  }
  t.ok(lost > 1_700 && lost < 2_300, `lost ${lost}`);
  t.ok(dup > 600 && dup < 1_000, `duplicated ${dup}`);
  t.ok(late > 3_500, `reordered ${late}`);
  net.stabilise();
  for (let i = 0; i < 1_000; i++) if (net.transmit(0, 1).length === 0) t.fail('lost after GST');
});

t.test('partitions separate groups and isolate unlisted replicas; heal reconnects', async (t) => {
  const net = new Network({ default: LAN }, new Prng(1));
  net.partition([[0, 1], [2]]);
  t.ok(net.connected(0, 1));
  t.notOk(net.connected(0, 2));
  t.notOk(net.connected(3, 0), 'replica 3 is in no group: isolated');
  t.same(net.transmit(1, 2), []);
  net.heal();
  t.ok(net.connected(0, 2));
  t.equal(net.transmit(1, 2).length, 1);
});

t.test('per-link profiles override the default', async (t) => {
  const net = new Network({ default: LAN, links: { '0->1': { ...LAN, loss: 1 } } }, new Prng(1));
  t.same(net.transmit(0, 1), []);
  t.equal(net.transmit(1, 0).length, 1);
});
