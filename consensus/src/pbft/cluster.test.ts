// End-to-end behaviour of four replicas on a tiny synchronous driver (testkit.Cluster): the normal case
// commits (§4.2), checkpoints stabilise (§4.3), and a silenced primary is replaced (§4.4, §4.5.2).
import t from 'tap';
import { Cluster, tx } from './testkit.ts';

t.test('normal case: 4 replicas commit every submitted transaction once, in one order (§4.2)', async (t) => {
  const c = new Cluster(4);
  for (let i = 0; i < 30; i++) c.submit(tx(i));
  const ok = c.run(
    () =>
      c.replicas.every((r, i) => c.committedTx.size === 30 && c.lastApplied[i]! === c.lastApplied[0]!) &&
      c.queue.length === 0,
  );
  t.ok(ok, 'run converged');
  t.equal(c.committedTx.size, 30, 'every tx committed');
  t.ok(c.agreement(), 'no two replicas applied different blocks at a height');
  const seen = new Set<string>();
  let dup = 0;
  for (const [, b] of c.applied[0]!)
    for (const x of b.block.txs) {
      const k = String(x);
      if (seen.has(k)) dup++;
      seen.add(k);
    }
  t.equal(dup, 0, 'no transaction committed twice');
  t.ok(
    c.replicas.every((r) => r.view === 0),
    'no view change in the fault-free case',
  );
  t.ok(c.replicas[0]!.lowWatermark > 0, 'checkpoints became stable and the low watermark moved');
  console.log(c.replicas.map((r) => r.stats()));
});
