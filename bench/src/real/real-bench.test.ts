import t from 'tap';
import { point } from '../test-fixture.ts';
import { groupPrimary, medianBy, medianRun, slowStepsNote, txsInHeights } from './real-bench.ts';

t.test('medianBy: the element with the median key, the lower middle of an even count', async (t) => {
  t.equal(
    medianBy([3, 1, 2], (x) => x),
    2,
  );
  t.equal(
    medianBy([4, 1, 3, 2], (x) => x),
    2,
  );
  t.equal(
    medianBy([], (x: number) => x),
    undefined,
  );
  t.same(
    medianBy([{ k: 5 }, { k: -1 }, { k: 9 }], (x) => x.k),
    { k: 5 },
    'the element itself, not its key',
  );
});

t.test('medianRun: a repeated point is its median run by committed rate, with spreads', async (t) => {
  const slow = { ...point(200, 80, 900), committedTxPerSec: 120 };
  const mid = { ...point(200, 60, 400), committedTxPerSec: 190 };
  const fast = { ...point(200, 50, 300), committedTxPerSec: 199 };
  const p = medianRun([fast, slow, mid]);
  t.equal(p.committedTxPerSec, 190, 'the median run decides the point (and so whether it kept up)');
  t.equal(p.p99LatencyMs, 400);
  t.same(p.runs?.committedTxPerSec, { min: 120, median: 190, max: 199, n: 3 });
  t.same(p.runs?.p99LatencyMs, { min: 300, median: 400, max: 900, n: 3 });
  t.same(p.runs?.others, [fast, slow], 'the other runs are kept whole (raw samples included)');
  t.same(medianRun([mid]), mid, 'a single run is the point itself, without spreads');
  t.throws(() => medianRun([]), RangeError);
});

t.test('medianRun: a run that measured nothing (NaN rate) ranks lowest', async (t) => {
  const none = { ...point(400, 0, 0), committedTxPerSec: Number.NaN };
  const a = { ...point(400, 60, 400), committedTxPerSec: 300 };
  const b = { ...point(400, 60, 400), committedTxPerSec: 350 };
  t.equal(medianRun([a, none, b]).committedTxPerSec, 300);
});

t.test('the progress log names the slow steps of a point, and nothing when there were none', async (t) => {
  t.equal(
    slowStepsNote(point(400, 300, 2_000).steps!),
    '; slow steps: blockApply 3 > 0.25 s, 1 > 1 s (slowest <= 2 s), consensusPersist 2 > 0.25 s, 0 > 1 s (slowest <= 0.5 s)',
  );
  t.equal(slowStepsNote(point(100, 50, 90).steps!), '');
});

t.test('the primary to kill is the one of the view most validators are in', async (t) => {
  const st = (view: number, primary: number) => ({ view, primary });
  // Validator 0 restarted after being killed, still in view 0; the others moved to view 1.
  t.equal(groupPrimary([st(0, 0), st(1, 1), st(1, 1), st(1, 1)]), 1);
  t.equal(groupPrimary([undefined, st(2, 2), st(2, 2), st(1, 1)]), 2, 'an unanswered status is skipped');
  t.equal(groupPrimary([st(1, 1), st(2, 2)]), 2, 'a tie goes to the later view');
  t.equal(groupPrimary([undefined]), undefined);
});

t.test('the catch-up gap counts the transactions of every block in it, read from the chain', async (t) => {
  // A chain of 250 blocks with h % 7 transactions at height h; the API answers at most 100 per page.
  const head = 250;
  const asked: string[] = [];
  const fakeFetch = (async (url: string) => {
    asked.push(url);
    const q = new URL(url).searchParams;
    const from = Number(q.get('from'));
    const limit = Number(q.get('limit'));
    const blocks = [];
    for (let h = from; h <= head && blocks.length < Math.min(limit, 100); h++)
      blocks.push({ height: h, txIds: Array.from({ length: h % 7 }, (_, i) => `${h}-${i}`) });
    const last = from + blocks.length - 1;
    return new Response(JSON.stringify({ head, blocks, next: last < head ? last + 1 : null }));
  }) as typeof fetch;
  let expected = 0;
  for (let h = 31; h <= 240; h++) expected += h % 7;
  t.equal(await txsInHeights('http://v0', 30, 240, fakeFetch), expected);
  t.equal(asked.length, 3, 'pages of 100, 100 and 10 blocks');
  t.equal(await txsInHeights('http://v0', 240, 240, fakeFetch), 0, 'no gap');
  const missing = (async () =>
    new Response(JSON.stringify({ head: 5, blocks: [], next: null }))) as unknown as typeof fetch;
  await t.rejects(txsInHeights('http://v0', 5, 9, missing), { code: 'SYNC_GAP' });
});
