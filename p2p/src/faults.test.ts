import t from 'tap';
import { FaultLayer } from './fault.ts';
import type { VigilNetwork } from './network.ts';
import { seededRng } from './random.ts';
import { startCluster, waitFor } from './test-network.ts';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

/** Record consensus messages per node as first byte values. */
function record(nodes: VigilNetwork[]): number[][] {
  const got: number[][] = nodes.map(() => []);
  for (const [i, n] of nodes.entries()) {
    n.onConsensus((_f, m) => {
      got[i]!.push(m[0]!);
    });
  }
  return got;
}

t.test('a partition drops messages between groups until healed', async (t) => {
  const fault = new FaultLayer({ seed: 1 });
  const c = await startCluster({ n: 4, fault });
  t.teardown(c.stop);
  const got = record(c.nodes);
  const [n0, n1, n2, n3] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork, VigilNetwork];
  fault.partition([
    [n0.key, n1.key],
    [n2.key, n3.key],
  ]);
  n0.broadcastConsensus(bytes(1));
  n2.sendConsensus(n0.key, bytes(9)); // blocked in the other direction too
  t.equal(n0.metrics().dropped['fault-partition'], 2, 'two of three recipients are across the partition');
  t.equal(n2.metrics().dropped['fault-partition'], 1);
  fault.heal();
  // Streams are FIFO: once the post-heal message arrives, anything sent before it would have too.
  n0.broadcastConsensus(bytes(2));
  await waitFor('post-heal broadcast delivered', () => [1, 2, 3].every((i) => got[i]!.includes(2)));
  t.same(got[1], [1, 2], 'same side: both');
  t.same(got[2], [2], 'other side: only after healing');
  t.same(got[3], [2]);
  t.same(got[0], [], 'the reverse direction was blocked as well');
});

t.test('a one-way cut blocks one direction only', async (t) => {
  const fault = new FaultLayer();
  const c = await startCluster({ n: 2, fault });
  t.teardown(c.stop);
  const got = record(c.nodes);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  fault.cut(a.key, b.key);
  a.sendConsensus(b.key, bytes(1));
  b.sendConsensus(a.key, bytes(2));
  await waitFor('b -> a delivered', () => got[0]!.length === 1);
  fault.restore(a.key, b.key);
  a.sendConsensus(b.key, bytes(3));
  await waitFor('a -> b after restore', () => got[1]!.length === 1);
  t.same(got, [[2], [3]]);
  t.equal(a.metrics().dropped['fault-cut'], 1);
});

t.test('loss drops the seeded fraction of messages, counted exactly', async (t) => {
  const fault = new FaultLayer({ seed: 2024 });
  const c = await startCluster({ n: 2, fault });
  t.teardown(c.stop);
  const got = record(c.nodes);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  fault.setLink(a.key, b.key, { loss: 0.3 });
  const sent = 1000;
  for (let i = 0; i < sent; i++) a.sendConsensus(b.key, bytes(1));
  fault.setLink(a.key, b.key, undefined);
  a.sendConsensus(b.key, bytes(2)); // sentinel, never lost
  await waitFor('sentinel delivered', () => got[1]!.includes(2));
  const rng = seededRng(2024);
  let expectedLost = 0;
  for (let i = 0; i < sent; i++) if (rng() < 0.3) expectedLost++;
  const lost = a.metrics().dropped['fault-loss'];
  t.equal(lost, expectedLost, 'exactly the seeded decisions');
  t.ok(lost > 240 && lost < 360, `roughly 30% lost (${lost})`);
  t.equal(got[1]!.length, sent - lost + 1, 'everything not lost arrived');
});

t.test('latency delays a link without reordering it, and does not hold back other links', async (t) => {
  const fault = new FaultLayer({ seed: 5 });
  const c = await startCluster({ n: 3, fault });
  t.teardown(c.stop);
  const [a, b, d] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
  const arrivals: string[] = [];
  b.onConsensus((_f, m) => arrivals.push(`b${m[0]}`));
  d.onConsensus((_f, m) => arrivals.push(`d${m[0]}`));
  fault.setLink(a.key, b.key, { latencyMs: 40, jitterMs: 40 });
  for (let i = 0; i < 20; i++) a.sendConsensus(b.key, bytes(i));
  t.ok(a.metrics().faultPending === 20, 'held in the delay line');
  a.sendConsensus(d.key, bytes(0));
  await waitFor('all arrived', () => arrivals.length === 21);
  t.equal(arrivals[0], 'd0', 'the undelayed link overtook the delayed one');
  t.same(
    arrivals.slice(1),
    Array.from({ length: 20 }, (_, i) => `b${i}`),
    'FIFO despite jitter',
  );
});
