// settle() against the fake node (real HTTP on loopback): an overloaded point's refused transactions are
// resent so the nonces parked behind them commit and the pools empty; a pool that will not empty is
// reported, not waited on forever. Checks behaviour only; the durations are the test's own bounds.
import { FakeLedger, FakeNode } from '@vigil/sensor-client/testing/fake-node.ts';
import { runLoad } from '@vigil/sensor-client/load/runner.ts';
import { smallLoad } from '@vigil/sensor-client/testing/load-fixture.ts';
import t, { type Test } from 'tap';
import { settle } from './settle.ts';

const clock = {
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
};

/** One fake node whose first batch (nonce 1 of all five devices) is refused as MEMPOOL_FULL. */
async function overloadedRun(t: Test) {
  const ledger = new FakeLedger('vigil-settle');
  const node = new FakeNode(ledger);
  await node.start();
  t.teardown(() => node.stop());
  ledger.commitMode = 'manual';
  ledger.parkFutureNonces = true;
  ledger.refuseNext = { code: 'MEMPOOL_FULL', count: 5 };
  const timer = setInterval(() => ledger.commitPending(), 20);
  t.teardown(() => clearInterval(timer));
  const cfg = { rate: 100, batchSize: 5, durationMs: 200, warmupMs: 0, drainMs: 200, nodes: [node.url] };
  const { schedule, corpus } = smallLoad(cfg, { chainId: 'vigil-settle', seed: 3, devices: 5 });
  const r = await runLoad(cfg, schedule, corpus, clock);
  const target = {
    backlog: async () => {
      const s = (await (await fetch(`${node.url}/v1/status`)).json()) as { mempool: { size: number } };
      return [s.mempool.size];
    },
    urls: () => [node.url],
  };
  return { ledger, r, target };
}

t.test('leftovers behind a refused nonce are resent, commit, and the pool empties', async (t) => {
  const { ledger, r, target } = await overloadedRun(t);
  t.equal(ledger.committed.length, 0, 'nothing committed: every later nonce is parked behind the gap');
  t.equal(ledger.mempoolSize, 15);
  t.equal(r.uncommittedTxs.length, 20);
  const s = await settle(target, r.uncommittedTxs, 10_000, clock);
  t.ok(s.idle, 'the pool emptied');
  t.same(s.backlogBefore, [15]);
  t.same(s.backlogAfter, [0]);
  t.equal(s.resent, 20);
  t.equal(s.resendRounds, 1, 'one round was enough');
  t.equal(ledger.committed.length, 20, 'every transaction of the run committed, the refused ones included');
});

t.test('a pool that does not empty within the bound is reported as not idle', async (t) => {
  const { ledger, r, target } = await overloadedRun(t);
  ledger.refuseNext = { code: 'MEMPOOL_FULL', count: 1_000 }; // the pool stays full
  const s = await settle(target, r.uncommittedTxs, 400, clock);
  t.notOk(s.idle);
  t.same(s.backlogAfter, [15]);
  t.ok(s.settleMs >= 400, 'waited out the bound');
  t.equal(ledger.committed.length, 0);
});

t.test('an idle network with nothing to resend settles at once, without requests', async (t) => {
  let posts = 0;
  const s = await settle(
    { backlog: async () => [0, 0, 0, 0], urls: () => ['http://127.0.0.1:1'] },
    [],
    10_000,
    clock,
    (async () => {
      posts++;
      return new Response('{}');
    }) as typeof fetch,
  );
  t.ok(s.idle);
  t.equal(s.resent, 0);
  t.equal(s.resendRounds, 0);
  t.equal(posts, 0);
});
