// "Grants to me" followed: who joined and whose access ended between two answers, questions coalesced,
// a failure that revokes nothing, and a question asked again when the soonest expiry passes.
import t from 'tap';
import type { AccessToMe } from './client.ts';
import { type GrantsAnswer, GrantsToMe } from './grants-to-me.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const grant = (patient: string, expiresAt: number | null = 1e15): AccessToMe => ({
  patient,
  via: 'grant',
  scopes: ['vitals.*'],
  purpose: 1,
  expiresAt,
});
const guardian = (patient: string): AccessToMe => ({
  patient,
  via: 'guardian',
  scopes: ['*'],
  purpose: null,
  expiresAt: null,
});

function harness(keep?: (e: AccessToMe) => boolean) {
  let answer: AccessToMe[] | Error = [];
  let asked = 0;
  const changes: GrantsAnswer[] = [];
  const errors: (string | undefined)[] = [];
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  let now = 1_000_000;
  const g = new GrantsToMe({
    ask: async () => {
      asked++;
      await new Promise((r) => setImmediate(r));
      if (answer instanceof Error) throw answer;
      return answer;
    },
    keep,
    onAnswer: (c) => changes.push({ ...c, listed: new Set(c.listed) }),
    onError: (e) => errors.push(e),
    now: () => now,
    setTimer: (fn, ms) => {
      const timer = { fn, ms, cleared: false };
      timers.push(timer);
      return timer;
    },
    clearTimer: (timer) => {
      if (timer) (timer as { cleared: boolean }).cleared = true;
    },
  });
  return {
    g,
    changes,
    errors,
    timers,
    asked: () => asked,
    answer: (a: AccessToMe[] | Error) => {
      answer = a;
    },
    setNow: (n: number) => {
      now = n;
    },
  };
}

t.test('the first answer lists everyone; later ones say who joined and whose access ended', async (t) => {
  const h = harness();
  h.answer([grant(A), grant(A), grant(B)]);
  await h.g.check();
  t.same(h.changes.at(-1)?.added, [A, B], 'a patient with two grants once');
  t.same(h.changes.at(-1)?.ended, []);
  t.ok(h.g.has(A) && h.g.has(B));
  h.answer([grant(B), grant(C)]);
  await h.g.check();
  t.same(h.changes.at(-1)?.added, [C]);
  t.same(h.changes.at(-1)?.ended, [A], 'revoked: no longer listed');
  t.notOk(h.g.has(A));
  const before = Date.now();
  await h.g.check();
  t.equal(h.changes.length, 3, 'every answer is told');
  t.same(h.changes.at(-1)?.added, [], 'an unchanged answer: nobody joined');
  t.same(h.changes.at(-1)?.ended, [], 'nobody left');
  t.ok(h.changes.at(-1)!.askedAt >= before, 'when it was asked');
  h.answer([grant(A), grant(B), grant(C)]);
  await h.g.check();
  t.same(h.changes.at(-1)?.added, [A], 'access given again: joined again');
});

t.test('an empty first answer is told too (the view shows its empty state)', async (t) => {
  const h = harness();
  await h.g.check();
  t.equal(h.changes.length, 1);
  t.same(h.changes[0]?.added, []);
});

t.test('keep: a guardian view counts guardianships only; malformed keys never count', async (t) => {
  const h = harness((e) => e.via === 'guardian');
  h.answer([grant(A), guardian(B), { ...guardian('not-hex'), patient: 'XYZ' }]);
  await h.g.check();
  t.same([...h.g.listed], [B]);
});

t.test('a failure revokes nothing and is said until an answer comes again', async (t) => {
  const h = harness();
  h.answer([grant(A)]);
  await h.g.check();
  h.answer(new Error('offline'));
  await h.g.check();
  t.ok(h.g.has(A), 'still listed');
  t.equal(h.changes.length, 1, 'no answer told');
  t.match(h.errors, [/Could not ask the node which patients granted you access: Error: offline/]);
  h.answer([grant(A)]);
  await h.g.check();
  t.same(h.errors.at(-1), undefined, 'the error is cleared');
  t.equal(h.errors.length, 2);
});

t.test('questions while one is on its way coalesce into one more after it', async (t) => {
  const h = harness();
  const first = h.g.check();
  const second = h.g.check();
  const third = h.g.check();
  t.equal(second, third, 'the same follow-up');
  await Promise.all([first, second, third]);
  t.equal(h.asked(), 2);
});

t.test('asked again once the soonest expiry has passed, by the node clock', async (t) => {
  const h = harness();
  h.answer([grant(A, 1_060_000), grant(B, 1_030_000), guardian(C)]);
  await h.g.check();
  const timer = h.timers.at(-1)!;
  t.equal(timer.ms, 31_000, 'the soonest expiry, plus a second');
  h.answer([grant(A, 1_060_000), guardian(C)]);
  h.setNow(1_031_000);
  timer.fn();
  await new Promise((r) => setTimeout(r, 10));
  t.same(h.changes.at(-1)?.ended, [B], 'the expired grant ended');
  t.equal(h.timers.at(-1)?.ms, 30_000, 'and the next one is watched');
  h.answer([guardian(C)]);
  await h.g.check();
  t.ok(h.timers.at(-1)?.cleared, 'nothing expires: no timer');
  h.answer([grant(A, 1e15)]);
  await h.g.check();
  t.equal(h.timers.at(-1)?.ms, 2 ** 31 - 1, 'far expiries: the longest delay a timer takes');
});

t.test('disposed: the timer stops and a late answer changes nothing', async (t) => {
  const h = harness();
  h.answer([grant(A, 1_010_000)]);
  const pending = h.g.check();
  h.g.dispose();
  await pending;
  t.equal(h.changes.length, 0);
  t.equal(h.g.listed.size, 0);
  await h.g.check();
  t.equal(h.asked(), 1, 'asks nothing once disposed');
});
