import t from 'tap';
import {
  DEFAULT_PROPOSAL_BATCH,
  type ProposalBatchOptions,
  ProposalBatcher,
  proposalBatchFromEnv,
} from './proposal-batcher.ts';

/** A virtual clock with timers that fire only when the test advances time. */
function harness(options: Partial<ProposalBatchOptions> = {}) {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; cb: () => void }>();
  const state = { pending: 0, inFlight: 0, primary: true };
  const proposals: { at: number; maxTxs: number }[] = [];
  const b = new ProposalBatcher(
    { ...DEFAULT_PROPOSAL_BATCH, batchTxs: 100, maxDelayMs: 5, maxInFlightBlocks: 2, ...options },
    {
      timers: {
        set: (cb, ms) => {
          const id = nextId++;
          timers.set(id, { at: now + ms, cb });
          return id;
        },
        clear: (h) => timers.delete(h as number),
      },
      clock: () => now,
      pending: () => state.pending,
      isPrimary: () => state.primary,
      inFlightBlocks: () => state.inFlight,
      propose: (maxTxs) => proposals.push({ at: now, maxTxs }),
    },
  );
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, x]) => x.at <= until).sort((a, c) => a[1].at - c[1].at)[0];
      if (due === undefined) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].cb();
    }
    now = until;
  };
  return { b, state, proposals, advance, timers };
}

t.test('an idle network proposes a single transaction after the short delay', (t) => {
  const h = harness();
  h.state.pending = 1;
  h.b.notify();
  h.advance(4);
  t.equal(h.proposals.length, 0, 'not before the delay');
  h.advance(1);
  t.same(h.proposals, [{ at: 5, maxTxs: 100 }], 'proposed at the delay');
  t.end();
});

t.test('a full batch is proposed at once, without waiting for the delay', (t) => {
  const h = harness();
  h.state.pending = 100;
  h.b.notify();
  h.advance(0);
  t.same(h.proposals, [{ at: 0, maxTxs: 100 }]);
  t.end();
});

t.test('arrivals during the delay join the same proposal instead of making one each', (t) => {
  const h = harness();
  for (let i = 1; i <= 40; i++) {
    h.state.pending = i;
    h.b.notify();
    h.advance(0.1);
  }
  h.advance(5);
  t.equal(h.proposals.length, 1, 'one proposal for 40 arrivals');
  t.end();
});

t.test('with the pipeline full, nothing is proposed until a commit; then everything waiting goes', (t) => {
  const h = harness();
  h.state.inFlight = 2;
  h.state.pending = 5_000;
  h.b.notify();
  h.advance(1_000);
  t.equal(h.proposals.length, 0, 'a flood does not push blocks beyond the in-flight bound');
  h.state.inFlight = 1;
  h.b.notify(); // a commit
  h.advance(0);
  t.same(h.proposals, [{ at: 1_000, maxTxs: 200 }], 'the in-flight block plus one batch are handed over');
  t.end();
});

t.test('under a sustained flood every proposal stays bounded by the batch and the pipeline', (t) => {
  const h = harness();
  let commits = 0;
  for (let step = 0; step < 2_000; step++) {
    h.state.pending += 7; // arrivals outpace commits
    if (step % 50 === 0 && h.state.inFlight > 0) {
      h.state.inFlight--; // a commit now and then
      commits++;
    }
    const before = h.proposals.length;
    h.b.notify();
    h.advance(1);
    if (h.proposals.length > before) h.state.inFlight++; // the replica proposed a block
  }
  t.ok(h.proposals.length > 0);
  t.ok(h.state.inFlight <= 2, 'the pipeline bound held');
  t.ok(
    h.proposals.every((p) => p.maxTxs <= 3 * 100),
    'never more than (in flight + 1) batches handed over',
  );
  t.ok(
    h.proposals.length <= commits + 2,
    `proposals follow commits (${h.proposals.length}, ${commits} commits)`,
  );
  t.end();
});

t.test('slow execution shrinks the batch so a block fits the budget; fast execution restores it', (t) => {
  const h = harness({ batchTxs: 500, blockBudgetMs: 250 });
  t.equal(h.b.batchTxs, 500, 'full batch before any measurement');
  h.b.recordExecution(50, 200); // 4 ms per transaction: a heavily loaded machine
  t.equal(h.b.batchTxs, 62, '250 ms / 4 ms');
  for (let i = 0; i < 50; i++) h.b.recordExecution(500, 100); // 0.2 ms per transaction
  t.equal(h.b.batchTxs, 500, 'back to the configured batch');
  h.b.recordExecution(10, 100_000);
  t.equal(h.b.batchTxs, 16, 'never below the minimum');
  t.end();
});

t.test('a backup hands pending transactions over at most every backupIntervalMs', (t) => {
  const h = harness({ backupIntervalMs: 50 });
  h.state.primary = false;
  h.state.pending = 10_000;
  for (let i = 0; i < 100; i++) {
    h.b.notify();
    h.advance(1);
  }
  t.equal(h.proposals.length, 2, 'twice in 100 ms, not on every arrival');
  t.end();
});

t.test('an emptied mempool is announced once', (t) => {
  const h = harness();
  h.state.pending = 3;
  h.b.notify();
  h.advance(5);
  h.state.pending = 0;
  h.b.notify();
  h.b.notify();
  h.advance(10);
  t.same(
    h.proposals.map((p) => p.maxTxs),
    [100, 0],
    'one proposal, then a single "nothing pending"',
  );
  t.end();
});

t.test('stop cancels the pending proposal', (t) => {
  const h = harness();
  h.state.pending = 1;
  h.b.notify();
  h.b.stop();
  h.advance(100);
  t.equal(h.proposals.length, 0);
  t.end();
});

t.test('settings come from the environment and are validated', (t) => {
  t.same(proposalBatchFromEnv({}), DEFAULT_PROPOSAL_BATCH);
  const o = proposalBatchFromEnv({ VIGIL_PROPOSAL_BATCH_TXS: '50', VIGIL_PROPOSAL_DELAY_MS: '0' });
  t.equal(o.batchTxs, 50);
  t.equal(o.maxDelayMs, 0);
  t.throws(() => proposalBatchFromEnv({ VIGIL_PROPOSAL_BATCH_TXS: 'x' }), { code: 'INVALID_PROPOSAL_BATCH' });
  t.throws(() => proposalBatchFromEnv({ VIGIL_PROPOSAL_IN_FLIGHT: '0' }), { code: 'INVALID_PROPOSAL_BATCH' });
  t.end();
});
