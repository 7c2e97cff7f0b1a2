import t from 'tap';
import { atPlannedStart, type StartClock } from './bench-network.ts';

/** A virtual clock: sleeping advances both the epoch and the monotonic time, instantly. */
function virtualClock(): StartClock & { t: number } {
  const c = {
    t: 0,
    epochNow: () => 1_800_000_000_000 + c.t,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

t.test(
  'usage is sampled at the planned start, so the idle wait after signing is not in the window',
  async (t) => {
    const clock = virtualClock();
    const startMs = clock.epochNow() + 700; // the pre-signing finished 700 ms before the planned start
    const r = await atPlannedStart(
      startMs,
      () => clock.epochNow(),
      async () => {
        clock.t += 6_000; // the load: warm-up, measured window and drain
        return 'done';
      },
      clock,
    );
    t.equal(r.started, startMs, 'the "before" sample is taken at the planned start');
    t.equal(r.wallMs, 6_000, 'the window is the load alone, not 6,700 ms');
    t.equal(r.result, 'done');
  },
);

t.test('a planned start already past: sampled at once', async (t) => {
  const clock = virtualClock();
  const now = clock.epochNow();
  const r = await atPlannedStart(
    now - 50,
    () => clock.epochNow(),
    async () => 1,
    clock,
  );
  t.equal(r.started, now);
  t.equal(r.wallMs, 0);
});
