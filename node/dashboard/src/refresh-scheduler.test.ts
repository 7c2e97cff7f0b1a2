// A block refreshes the panels on screen, a few at a time; the others wait, stale, until they are seen.
import t from 'tap';
import { RefreshScheduler } from './refresh-scheduler.ts';

function harness(limit: number) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  let peak = 0;
  let running = 0;
  const s = new RefreshScheduler<string>((k) => {
    started.push(k);
    running++;
    peak = Math.max(peak, running);
    return new Promise<void>((done) =>
      finish.set(k, () => {
        running--;
        done();
      }),
    );
  }, limit);
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      const next = [...finish.entries()][0];
      if (next === undefined) return;
      finish.delete(next[0]);
      next[1]();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { s, started, settle, peak: () => peak };
}

t.test('only panels on screen are refreshed, at most `limit` at once', async (t) => {
  const { s, started, settle, peak } = harness(2);
  const ward = Array.from({ length: 10 }, (_, i) => `p${i}`);
  for (const k of ['p0', 'p1', 'p2', 'p3']) s.setVisible(k, true);
  s.refreshAll(ward);
  t.same(started, ['p0', 'p1'], 'two at a time');
  await settle();
  t.same(started, ['p0', 'p1', 'p2', 'p3'], 'then the other two on screen');
  t.equal(peak(), 2);
  t.equal(s.staleCount, 6, 'six off screen wait');
});

t.test('a stale panel is refreshed when it comes on screen; a fresh one is not', async (t) => {
  const { s, started, settle } = harness(4);
  s.refreshAll(['a', 'b']);
  t.same(started, [], 'nothing on screen');
  s.setVisible('a', true);
  await settle();
  t.same(started, ['a'], 'a was stale: refreshed as it appears');
  s.setVisible('a', false);
  s.setVisible('a', true);
  await settle();
  t.same(started, ['a'], 'seen again without a block in between: no new reads');
  s.forget('b');
  s.setVisible('b', true);
  await settle();
  t.same(started, ['a'], 'a removed panel is forgotten');
});

t.test('repeated blocks while a refresh is queued add no duplicate', async (t) => {
  const { s, started, settle } = harness(1);
  s.setVisible('x', true);
  s.setVisible('y', true);
  s.refreshAll(['x', 'y']);
  s.refreshAll(['x', 'y']);
  s.refreshAll(['x', 'y']);
  await settle();
  t.same(started, ['x', 'y', 'x'], 'y was still queued, x had started: one more x, no second y');
});

t.test('refreshEvery reads every panel, on screen or not, still `limit` at a time', async (t) => {
  const { s, started, settle, peak } = harness(2);
  s.setVisible('p0', true);
  s.refreshAll(['p0', 'p1', 'p2']);
  t.equal(s.staleCount, 2);
  s.refreshEvery(['p0', 'p1', 'p2']);
  await settle();
  t.same([...new Set(started)].sort(), ['p0', 'p1', 'p2'], 'the off-screen ones too');
  t.equal(s.staleCount, 0, 'none left stale');
  t.ok(peak() <= 2);
});
