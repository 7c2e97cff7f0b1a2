// Automatic logoff (ADR 0127) on a fake clock: the warning and its countdown, activity ending it,
// late timers (a hidden tab, a sleeping machine) signing out rather than being kept by the next touch,
// and a transaction in flight deferring the sign-out, for a bounded time.
import t from 'tap';
import { type IdleClock, IdleTimer, MAX_DEFER_MS, warningMs } from './idle.ts';

/** A clock whose timers run only when the test moves time on (`advance`) or fires them late (`skip`). */
class FakeClock implements IdleClock {
  time = 1_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time on by `ms`, running each timer at its time, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, x]) => x.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
    }
    this.time = end;
  }
  /** Moves time on by `ms` without running any timer: what a throttled or sleeping tab sees. */
  skip(ms: number): void {
    this.time += ms;
  }
}

const MIN = 60_000;

function harness(idleMs = 15 * MIN, busy = () => false) {
  const clock = new FakeClock();
  const log: string[] = [];
  const timer = new IdleTimer(
    { idleMs, busy, clock },
    {
      warn: (s) => log.push(`warn ${s}`),
      resume: () => log.push('resume'),
      signOut: () => log.push('sign out'),
    },
  );
  timer.start();
  return { clock, log, timer };
}

t.test('the warning is a minute, or half of a shorter setting', async (t) => {
  t.equal(warningMs(15 * MIN), 60_000);
  t.equal(warningMs(90_000), 45_000);
  t.equal(warningMs(4_000), 2_000);
});

t.test('idle: a warning counting down each second for the last minute, then a sign-out', async (t) => {
  const { clock, log } = harness();
  clock.advance(14 * MIN - 1);
  t.same(log, [], 'nothing before the last minute');
  clock.advance(1);
  t.same(log, ['warn 60']);
  clock.advance(59_000);
  t.equal(log.length, 60, 'one update a second');
  t.same(log.slice(-3), ['warn 3', 'warn 2', 'warn 1']);
  clock.advance(999);
  t.notOk(log.includes('sign out'), 'not a moment early');
  clock.advance(1);
  t.equal(log.at(-1), 'sign out');
  t.equal(clock.pending, 0, 'stopped: no timer left behind');
  clock.advance(60 * MIN);
  t.equal(log.filter((l) => l === 'sign out').length, 1, 'signed out once');
});

t.test('activity before the warning postpones it; during the warning a deliberate act ends it', async (t) => {
  const { clock, log, timer } = harness();
  clock.advance(10 * MIN);
  timer.activity(false);
  clock.advance(14 * MIN - 1);
  t.same(log, [], 'counted from the last activity');
  clock.advance(30_001);
  t.same(log.slice(0, 1), ['warn 60']);
  const shown = log.length;
  timer.activity(false);
  t.equal(log.length, shown, 'a pointer moving does not dismiss the warning');
  timer.activity();
  t.same(log.slice(shown), ['resume'], 'a click, key or touch does');
  clock.advance(14 * MIN - 1);
  t.equal(log.at(-1), 'resume', 'a full period again');
  clock.advance(61_000);
  t.equal(log.at(-1), 'sign out');
});

t.test(
  'a late timer (hidden tab, sleeping machine) signs out; the next touch does not keep the session',
  async (t) => {
    const { clock, log, timer } = harness();
    clock.skip(2 * 3_600_000);
    timer.activity();
    t.same(log, ['sign out'], 'no warning: the time is already up');
    const shown = harness();
    shown.clock.skip(15 * MIN + 1);
    shown.timer.check();
    t.same(shown.log, ['sign out'], 'a tab coming back into view checks at once');
    const other = harness();
    other.clock.skip(15 * MIN - 30_000);
    other.timer.activity();
    t.same(other.log, [], 'within the period, activity keeps the session even if no timer ran');
    other.clock.advance(15 * MIN - 60_001);
    t.same(other.log, [], 'and counts from that activity');
  },
);

t.test('a transaction in flight defers the sign-out until answered, for at most MAX_DEFER_MS', async (t) => {
  let sending = true;
  const { clock, log, timer } = harness(15 * MIN, () => sending);
  clock.advance(15 * MIN);
  t.equal(log.at(-1), 'warn 0', 'due, but waiting for the answer');
  t.notOk(log.includes('sign out'));
  timer.activity();
  t.notOk(log.includes('resume'), 'activity past the deadline does not keep the session');
  clock.advance(5_000);
  t.notOk(log.includes('sign out'));
  sending = false;
  clock.advance(1_000);
  t.equal(log.at(-1), 'sign out', 'signed out once it was answered');

  const stuck = harness(15 * MIN, () => true);
  stuck.clock.advance(15 * MIN + MAX_DEFER_MS - 1);
  t.notOk(stuck.log.includes('sign out'));
  stuck.clock.advance(1);
  t.equal(stuck.log.at(-1), 'sign out', 'a submission that never ends does not keep the session');
});

t.test('stopped (signed out by hand): nothing more happens', async (t) => {
  const { clock, log, timer } = harness(4_000);
  timer.stop();
  timer.activity();
  clock.advance(60_000);
  t.same(log, []);
  t.equal(clock.pending, 0);
});
