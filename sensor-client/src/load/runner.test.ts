// End-to-end run of the load generator against the fake node (real HTTP and SSE on loopback, small
// rate): checks accounting, not timing. Commits are released by the test, so latencies are known to be
// at least the hold time.

import t from 'tap';
import { FakeLedger, FakeNode } from '../testing/fake-node.ts';
import { smallLoad } from '../testing/load-fixture.ts';
import { runLoad } from './runner.ts';

const realClock = {
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
};

t.test('every offered transaction is submitted, committed and measured once; warm-up excluded', async (t) => {
  const ledger = new FakeLedger('vigil-load');
  const a = new FakeNode(ledger);
  const b = new FakeNode(ledger);
  await a.start();
  await b.start();
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  ledger.commitMode = 'manual';
  ledger.parkFutureNonces = true; // concurrent requests may overtake each other, as on a real node
  const timer = setInterval(() => ledger.commitPending(), 20);
  t.teardown(() => clearInterval(timer));
  const cfg = {
    rate: 400,
    batchSize: 10,
    durationMs: 500,
    warmupMs: 100,
    drainMs: 5_000,
    nodes: [a.url, b.url],
  };
  const { schedule, corpus } = smallLoad(cfg, { chainId: 'vigil-load', seed: 1, devices: 8 });
  const r = await runLoad(cfg, schedule, corpus, realClock);
  t.equal(ledger.committed.length, 200, 'all 200 transactions reached the ledger, warm-up included');
  t.equal(r.offered.transactions, 160, 'the 40 warm-up transactions are not measured');
  t.equal(r.submitted.accepted, 160);
  t.same(r.submitted.rejected, {});
  t.equal(r.committed.transactions, 160);
  t.equal(r.committed.notCommittedAfterDrain, 0);
  t.equal(r.rawLatencyMs.length, 160);
  t.equal(r.latencyMs.count, 160);
  t.ok(r.latencyMs.min >= 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  t.equal(r.offered.ratePerSec, 400, 'offered rate = measured transactions / measured window');
  t.equal(r.eventReconnects, 0);
  t.equal(r.uncommittedTxs.length, 0);
});

t.test('rejections are counted by code, and uncommitted transactions are reported', async (t) => {
  const ledger = new FakeLedger('vigil-load');
  const a = new FakeNode(ledger);
  await a.start();
  t.teardown(() => a.stop());
  ledger.commitMode = 'manual'; // nothing ever commits
  ledger.refuseNext = { code: 'MEMPOOL_FULL', count: 5 };
  const cfg = { rate: 100, batchSize: 5, durationMs: 200, warmupMs: 0, drainMs: 100, nodes: [a.url] };
  const { schedule, corpus } = smallLoad(cfg, { chainId: 'vigil-load', seed: 2, devices: 5 });
  const r = await runLoad(cfg, schedule, corpus, realClock);
  // The first batch (nonce 1 of all five devices) is refused, so every later transaction is a nonce gap.
  t.same(r.submitted.rejected, { MEMPOOL_FULL: 5, NONCE_GAP: 15 });
  t.equal(r.committed.transactions, 0);
  t.equal(r.committed.notCommittedAfterDrain, 20);
  t.equal(r.latencyMs.count, 0);
  t.equal(r.latencyMs.missing, 20);
  t.equal(r.latencyMs.p99, Number.POSITIVE_INFINITY, 'a point that committed nothing has no bounded p99');
  t.same(
    r.uncommittedTxs,
    corpus.batches.flatMap((b) => b.txs),
    'every transaction is reported uncommitted, in corpus (nonce) order, for a resend',
  );
});
